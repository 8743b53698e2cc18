process EVALUATE {
    tag "${model_id}:${attribute}"
    label 'small'

    input:
    tuple val(model_id), val(attribute), path(config), path(model), path(sent)

    output:
    tuple val(model_id), path("repo/cp_${attribute}.csv"), path("repo/sp_${attribute}.csv"),
          path("repo/z2_${attribute}.csv"), emit: predictions

    script:
    """
    mkdir repo && cp -L ${config} repo/config.json && cp -L ${sent} repo/
    evaluate repo ${model} --attribute ${attribute} --threads ${task.cpus}
    """
}
