// Pairs depend only on attributes: computed per model from the attributes its extraction holds,
// so they always belong to the test split the model's card records.
process FINDPAIRS {
    tag "${model_id}"
    label 'small'

    input:
    tuple val(model_id), path(latents)

    output:
    tuple val(model_id), path('pairs.npz'), emit: pairs
    path 'p_*.csv', emit: csv

    script:
    def categorical = params.pairs_categorical ? '--categorical' : ''
    """
    findpairs ${latents} --out . --threshold ${params.pairs_threshold} --limit ${params.pairs_limit} ${categorical}
    """
}
