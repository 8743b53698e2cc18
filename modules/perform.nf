// One model: gathers its config and predictions into a self-contained results directory.
process PERFORM {
    tag "${model_id}"
    label 'small'
    publishDir "${params.outdir}/models", mode: 'copy'

    input:
    tuple val(model_id), path(config), path(evaluations)

    output:
    tuple val(model_id), path(model_id), emit: results

    script:
    """
    mkdir ${model_id} && cp -L ${config} ${model_id}/config.json
    for d in ${evaluations}; do cp -rL \$d/. ${model_id}/; done
    perform run ${model_id} --out ${model_id}
    """
}

// The seeds of one setting pooled, as in the paper's tables.
process PERFORM_SETTING {
    tag "${setting}"
    label 'small'
    publishDir "${params.outdir}/settings", mode: 'copy'

    input:
    tuple val(setting), path(model_dirs)

    output:
    path setting

    script:
    """
    mkdir ${setting}
    perform run ${model_dirs} --out ${setting}
    """
}
