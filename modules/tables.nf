process TABLES {
    label 'small'
    publishDir "${params.outdir}/tables", mode: 'copy'

    input:
    path model_dirs
    path reference

    output:
    path '*.csv'

    script:
    def compare = reference ? "--reference ${reference}" : ''
    """
    perform tables ${model_dirs} --out . ${compare}
    """
}
