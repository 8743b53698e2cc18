process EXTRACT {
    tag "${model_id}"
    label 'medium'

    input:
    tuple val(model_id), path(model)

    output:
    tuple val(model_id), path("${model_id}.latents.npz"), emit: latents

    script:
    def limit = params.extract_limit ? "--limit ${params.extract_limit}" : ''
    def mean = params.extract_mean ? '--mean' : ''
    def plugin = params.plugin ? "--plugin ${params.plugin.endsWith('.py') ? file(params.plugin) : params.plugin}" : ''
    """
    extract ${model} --out ${model_id}.latents.npz ${limit} ${mean} ${plugin} --threads ${task.cpus} --quiet
    """
}
