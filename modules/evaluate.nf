// SeNT and (with params.baselines) the baselines on one attribute's test pairs (with
// params.verify the verified method, whose search uses every attribute's surrogate), gathered in
// eval_<k>/ in the repository layout: predictions_<k>.npz, baselines/<method>/, examples/.
process EVALUATE {
    tag "${model_id}:${attribute}"
    label 'small'

    input:
    tuple val(model_id), val(attribute), path(config), path(model), path(sent), path(corr), path(surrogates)

    output:
    tuple val(model_id), path("eval_${attribute}"), emit: predictions

    script:
    def baselines = params.baselines ? '--baselines' : ''
    def verify = params.verify ? '--verify' : ''
    // example melodies need the built-in plug-in (main.nf says so when skipped)
    def examples = params.plugin ? 0 : params.examples
    """
    mkdir repo && cp -L ${config} repo/config.json && cp -L ${sent} ${corr} ${surrogates} repo/
    evaluate repo ${model} --attribute ${attribute} ${baselines} ${verify} --examples ${examples} --threads ${task.cpus}
    mkdir eval_${attribute} && mv repo/predictions_${attribute}.npz eval_${attribute}/
    for d in baselines verified examples; do if [ -d repo/\$d ]; then mv repo/\$d eval_${attribute}/; fi; done
    """
}
