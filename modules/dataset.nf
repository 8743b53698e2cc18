process DATASET {
    tag "dMelodies"
    label 'small'
    publishDir "${params.outdir}/data", mode: 'copy'

    output:
    path 'dmelodies.npz', emit: npz

    script:
    """
    dataset --out dmelodies.npz
    """
}
