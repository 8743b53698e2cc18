process INIT {
    tag "${model_id}"
    label 'small'

    input:
    tuple val(model_id), path(latents), path(pairs)

    output:
    tuple val(model_id), path('repo/config.json'), emit: config

    script:
    def extended = params.variant.contains('e') ? '--extended' : '--noextended'
    """
    init-repo repo "\$(readlink -f ${latents})" "\$(readlink -f ${pairs})" ${extended}
    """
}
