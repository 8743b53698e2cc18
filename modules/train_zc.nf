process TRAIN_ZC {
    tag "${model_id}:${attribute}"
    label 'small'

    input:
    tuple val(model_id), path(config), val(attribute)

    output:
    tuple val(model_id), val(attribute), path("repo/sent_ZC_${attribute}.model"), emit: model
    tuple val(model_id), path("repo/{sent_ZC,train_zc}_${attribute}.*"), emit: files

    script:
    def pairs = params.max_pairs ? "--max-pairs ${params.max_pairs}" : ''
    def one_hot = params.variant.contains('h') ? '--one-hot' : ''
    """
    mkdir repo && cp -L ${config} repo/config.json
    train-zc repo --attribute ${attribute} --epochs ${params.zc_epochs} --batch-size ${params.batch_size} \\
        --max-restarts ${params.zc_max_restarts} ${pairs} ${one_hot} --threads ${task.cpus}
    """
}
