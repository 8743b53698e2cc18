process TABLES {
    label 'small'

    input:
    path model_dirs
    path reference

    output:
    path '*.csv', emit: tables
    path 'report.html', emit: report

    script:
    def compare = reference ? "--reference ${reference}" : ''
    """
    perform tables ${model_dirs} --out . ${compare} --report report.html --link-prefix models
    """
}
