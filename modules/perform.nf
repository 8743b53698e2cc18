// One model: its published repository, self-contained and relocatable. models/<id>/ holds the
// config (relative paths), its latent codes, every attribute's index files, traversal functions,
// training logs and predictions, its scores and figures (with --two_at_once, two_at_once.csv);
// its pairs are published beside it in pairs/<id>/, which the config reaches as
// ../../pairs/<id>/pairs.npz. The task directory mimics that layout, so the same config works
// here, in later tasks and in the results.
process PERFORM {
    tag "${model_id}"
    label 'small'

    input:
    tuple val(model_id), path(latents), path(pairs), path(attribute_files), path(model)

    output:
    tuple val(model_id), path("models/${model_id}"), emit: results

    script:
    def repo = "models/${model_id}"
    def extended = params.variant.contains('e') ? '--extended' : '--noextended'
    // one attribute has no second to edit with it (main.nf warns)
    def two_at_once = params.two_at_once && !params.plugin && params.attributes.toString().tokenize(',').size() >= 2 ?
        "evaluate ${repo} ${model} --two_at_once ${params.two_at_once} --skip_single --threads ${task.cpus}" : ''
    """
    mkdir -p ${repo} pairs/${model_id}
    ln -s "\$(readlink -f ${pairs})" pairs/${model_id}/pairs.npz
    cp -L ${latents} ${repo}/latents.npz
    for f in ${attribute_files}; do
        if [ -d "\$f" ]; then cp -rL "\$f"/. ${repo}/; else cp -L "\$f" ${repo}/; fi
    done
    init-repo ${repo} ${repo}/latents.npz pairs/${model_id}/pairs.npz ${extended}
    ${two_at_once}
    perform run ${repo}
    """
}

// The seeds of one setting pooled, as in the paper's tables.
process PERFORM_SETTING {
    tag "${setting}"
    label 'small'

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
