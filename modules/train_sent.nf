process TRAIN_SENT {
    tag "${model_id}:${attribute}"
    label 'sent'

    input:
    tuple val(model_id), val(attribute), path(config), path(model), path(corr), path(uncorr), path(zc)

    output:
    // the relevant dims travel with the model: evaluate's sent-target method moves the same ones
    tuple val(model_id), val(attribute), path("repo/sent_${attribute}.model"), path("repo/corr_index_${attribute}.txt"),
          emit: model
    tuple val(model_id), path("repo/{sent,train,curve}_${attribute}.*"), emit: files

    script:
    def optional = [max_pairs: params.max_pairs, steps: params.sent_steps, validation: params.sent_validation,
                    score_every: params.sent_score_every]
        .findAll { it.value }.collect { "--${it.key} ${it.value}" }.join(' ')
    """
    mkdir repo && cp -L ${config} repo/config.json && cp -L ${corr} ${uncorr} ${zc} repo/
    train-sent repo ${model} --attribute ${attribute} --variant '${params.variant}' --epochs ${params.sent_epochs} \\
        --batch-size ${params.sent_batch_size ?: params.batch_size} --lr ${params.sent_lr} --seed ${params.sent_seed} --lambdas ${params.lambdas} \\
        --schedule ${params.sent_schedule} --select ${params.sent_select} ${optional} --threads ${task.cpus}
    """
}
