// SeNT and (with params.baselines) the baselines on one attribute's test pairs, gathered in
// eval_<k>/ in the repository layout: cp/sp/z2_<k>.csv and baselines/<method>/*_<k>.csv.
process EVALUATE {
    tag "${model_id}:${attribute}"
    label 'small'

    input:
    tuple val(model_id), val(attribute), path(config), path(model), path(sent)

    output:
    tuple val(model_id), path("eval_${attribute}"), emit: predictions

    script:
    def baselines = params.baselines ? '--baselines' : ''
    """
    mkdir repo && cp -L ${config} repo/config.json && cp -L ${sent} repo/
    evaluate repo ${model} --attribute ${attribute} ${baselines} --threads ${task.cpus}
    mkdir eval_${attribute} && mv repo/*_${attribute}.csv eval_${attribute}/
    if [ -d repo/baselines ]; then mv repo/baselines eval_${attribute}/; fi
    """
}
