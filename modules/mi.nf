process MI {
    tag "${model_id}:${attribute}"
    label 'small'

    input:
    tuple val(model_id), path(config), val(attribute)

    output:
    tuple val(model_id), val(attribute), path("repo/corr_index_${attribute}.txt"),
          path("repo/uncorr_index_${attribute}.txt"), emit: index
    tuple val(model_id), path("repo/{corr_index,uncorr_index,mi}_${attribute}.*"), emit: files

    script:
    def samples = params.mi_max_samples ? "--max-samples ${params.mi_max_samples}" : ''
    """
    mkdir repo && cp -L ${config} repo/config.json
    mi repo --attribute ${attribute} --gamma ${params.gamma} ${samples} --threads ${task.cpus}
    """
}
