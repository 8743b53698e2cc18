process TRAIN_VAE {
    tag "${model_id}"
    label 'vae'

    input:
    val model_id
    path dataset

    output:
    tuple val(model_id), path("${model_id}.pt"), emit: model
    path "${model_id}.log.csv", emit: log

    script:
    def opt = { name, value -> value != null ? "--${name} ${value}" : '' }
    """
    train-vae run ${model_id} --out ${model_id}.pt --dataset ${dataset} --quiet \\
        --epochs ${params.vae_epochs} --batch-size ${params.vae_batch_size} --lr ${params.vae_lr} \\
        ${opt('lr-final', params.vae_lr_final)} ${opt('batches-per-epoch', params.vae_batches_per_epoch)} \\
        --beta-warmup-epochs ${params.vae_beta_warmup_epochs} --beta-ramp-batches ${params.vae_beta_ramp_batches} \\
        ${opt('test-rows', params.vae_test_rows)} --device ${params.vae_device} --threads ${task.cpus} \\
        ${params.vae_revive_dead_logits ? '--revive-dead-logits' : ''}
    """
}
