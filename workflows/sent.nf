// SeNT over models x attributes: latents, pairs, a repository per model, then per attribute the
// relevant dims, the surrogate, the traversal function and its evaluation; per model the
// published repository, per setting the seeds pooled, and the paper's tables.
include { EXTRACT                  } from '../modules/extract'
include { FINDPAIRS                } from '../modules/findpairs'
include { INIT                     } from '../modules/init'
include { MI                       } from '../modules/mi'
include { TRAIN_ZC                 } from '../modules/train_zc'
include { TRAIN_SENT               } from '../modules/train_sent'
include { EVALUATE                 } from '../modules/evaluate'
include { PERFORM; PERFORM_SETTING } from '../modules/perform'
include { TABLES                   } from '../modules/tables'

def settingOf(String modelId) { modelId.replaceAll(/_r_\d+$/, '') }

workflow SENT {
    take:
    models       // (id, model file)
    attributes   // attribute indices (a list)
    reference    // the paper's tables, or [] for none

    main:
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
    TABLES(PERFORM.out.results.map { id, dir -> dir }.collect(), reference)

    emit:
    results = PERFORM.out.results
}
