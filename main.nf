#!/usr/bin/env nextflow
// SeNT on dMelodies: VAE models x attributes -> traversal functions, evaluated and tabulated.
// The models come from files or are trained first; workflows/sent.nf does the rest. Parameters
// are described in nextflow_schema.json (`--help`), published outputs in conf/modules.config.
nextflow.enable.dsl = 2

include { DATASET   } from './modules/dataset'
include { TRAIN_VAE } from './modules/train_vae'
include { SENT      } from './workflows/sent'

def helpText() {
    def schema = new groovy.json.JsonSlurper().parse(new File("${projectDir}/nextflow_schema.json"))
    def lines = ["SeNT pipeline: ${schema.description}"]
    schema.definitions.each { key, group ->
        lines << "" << group.title
        group.properties.each { name, p ->
            def value = p.containsKey('default') ? " ${p.default.toString().replace('${projectDir}/', '')}" : ''
            lines << "  --${name}${value}".padRight(34) + " ${p.description}"
        }
    }
    lines << "" << "Profiles"
    schema.profiles.each { name, text -> lines << "  ${name}".padRight(16) + " ${text}" }
    lines.join('\n')
}

workflow {
    if (params.help) {
        log.info(helpText())
        return
    }
    def attributes = params.attributes.toString().tokenize(',').collect { it.trim() as int }
    if (params.two_at_once && !params.plugin && attributes.size() < 2)
        log.warn "--two_at_once edits two attributes at once: skipped with the one attribute of --attributes ${params.attributes}"
    if (params.plugin) {
        if (params.train_vae)
            error "--train_vae trains zoo models of the built-in plug-in; give a plug-in's model files with --models"
        def skipped = [examples: params.examples, two_at_once: params.two_at_once].findAll { it.value }
        if (skipped)
            log.warn "plug-in ${params.plugin}: ${skipped.keySet().join(', ')} need the built-in dMelodies plug-in; skipped"
    }

    // models: trained here (--train_vae id,id,...) or model files (--models glob)
    if (params.train_vae) {
        DATASET()
        models = TRAIN_VAE(Channel.fromList(params.train_vae.tokenize(',')), DATASET.out.npz).model
    } else {
        models = Channel.fromPath(params.models, checkIfExists: true).map { f -> tuple(f.baseName, f) }
    }
    SENT(models, attributes, params.reference ? file(params.reference, checkIfExists: true) : [])
}
