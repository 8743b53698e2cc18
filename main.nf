#!/usr/bin/env nextflow
// SeNT on dMelodies: VAE models x attributes -> traversal functions, evaluated and tabulated.
// This file only wires the processes of modules/; each runs one bin/ tool.
nextflow.enable.dsl = 2

include { DATASET                  } from './modules/dataset'
include { TRAIN_VAE                } from './modules/train_vae'
include { EXTRACT                  } from './modules/extract'
include { FINDPAIRS                } from './modules/findpairs'
include { INIT                     } from './modules/init'
include { MI                       } from './modules/mi'
include { TRAIN_ZC                 } from './modules/train_zc'
include { TRAIN_SENT               } from './modules/train_sent'
include { EVALUATE                 } from './modules/evaluate'
include { PERFORM; PERFORM_SETTING } from './modules/perform'
include { TABLES                   } from './modules/tables'

def settingOf(String modelId) { modelId.replaceAll(/_r_\d+$/, '') }

workflow {
    if (params.help) {
        log.info(new File("${projectDir}/docs/params.txt").text)
        return
    }
    def attributes = params.attributes.toString().tokenize(',').collect { it.trim() as int }
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

    EXTRACT(models)

    // pairs: per model, from its own extraction, so they always come from the split its card
    // records (a model may be trained on another split seed than its id's)
    FINDPAIRS(EXTRACT.out.latents)
    sources = EXTRACT.out.latents.join(FINDPAIRS.out.pairs)   // (id, latents, pairs)
    INIT(sources)

    // one chain per (model, attribute)
    per_attribute = INIT.out.config.combine(Channel.fromList(attributes))
    MI(per_attribute)
    TRAIN_ZC(per_attribute)
    repos = INIT.out.config.join(models)   // (id, config, model)
    TRAIN_SENT(
        repos.combine(MI.out.index, by: 0)
            .map { id, config, model, k, corr, uncorr -> tuple([id, k], config, model, corr, uncorr) }
            .join(TRAIN_ZC.out.model.map { id, k, zc -> tuple([id, k], zc) })
            .map { key, config, model, corr, uncorr, zc -> tuple(key[0], key[1], config, model, corr, uncorr, zc) }
    )
    // the verified method's surrogate search reads every attribute's surrogate
    surrogates = TRAIN_ZC.out.model.map { id, k, zc -> tuple(id, zc) }.groupTuple(size: attributes.size())
    EVALUATE(
        TRAIN_SENT.out.model.combine(repos, by: 0).combine(surrogates, by: 0)
            .map { id, k, sent, corr, config, model, zcs -> tuple(id, k, config, model, sent, corr, zcs) }
    )

    // per model: everything made for its attributes (4 outputs each) into one published repository
    attribute_files = MI.out.files.mix(TRAIN_ZC.out.files, TRAIN_SENT.out.files, EVALUATE.out.predictions)
        .groupTuple(size: 4 * attributes.size())
        .map { id, files -> tuple(id, files.flatten()) }
    PERFORM(sources.join(attribute_files).join(models))   // (id, latents, pairs, files, model)
    // pooled per setting, and the paper's tables
    PERFORM_SETTING(PERFORM.out.results.map { id, dir -> tuple(settingOf(id), dir) }.groupTuple())
    TABLES(PERFORM.out.results.map { id, dir -> dir }.collect(),
           params.reference ? file(params.reference, checkIfExists: true) : [])
}
