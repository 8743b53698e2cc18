// Pairs depend only on attributes: with `source` = a split seed they are computed once per seed
// from the data set itself; with `source` = an extract .npz (a limited extraction) per model.
process FINDPAIRS {
    tag "${key}"
    label 'small'
    // published: the published repositories refer to it (config.json: ../../pairs/<key>/pairs.npz)
    publishDir "${params.outdir}/pairs/${key}", mode: 'copy', pattern: 'pairs.npz'

    input:
    tuple val(key), val(split_seed), path(latents)

    output:
    tuple val(key), path('pairs.npz'), emit: pairs
    path 'p_*.csv', emit: csv

    script:
    def source = latents ? "${latents}" : "--split-seed ${split_seed}"
    def categorical = params.pairs_categorical ? '--categorical' : ''
    """
    findpairs ${source} --out . --threshold ${params.pairs_threshold} --limit ${params.pairs_limit} ${categorical}
    """
}
