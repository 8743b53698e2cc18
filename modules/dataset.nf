process DATASET {
    tag "dMelodies"
    label 'small'

    output:
    path 'dmelodies.npz', emit: npz

    script:
    """
    dataset --out dmelodies.npz
    """
}
