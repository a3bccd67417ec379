// pipeline/pipeline_config.cc — see pipeline_config.h.
#include "pipeline/pipeline_config.h"

namespace mx::pipeline {

const config::Table<PipelineSettings>& pipelineTable() {
  static const config::Table<PipelineSettings> t = [] {
    config::Table<PipelineSettings> t("pipeline", "spool -> parse -> store -> events, in this process");
    t.add("enabled", &PipelineSettings::enabled, "run the spool consumer in this process");
    t.add("parse", &PipelineSettings::parse, "parse MIME into JSON and extract attachments");
    t.add("nice", &PipelineSettings::nice, "added to the pipeline thread's nice value (ignored with sched_idle)",
          config::Check::between(0, 19));
    t.add("sched_idle", &PipelineSettings::sched_idle,
          "run the pipeline under SCHED_IDLE: only on CPU time reception leaves free; the spool absorbs bursts");
    t.add("batch", &PipelineSettings::batch, "records per batch: one store sync, one events append, one checkpoint",
          config::Check::between(1, 100000));
    t.add("give_up_after", &PipelineSettings::give_up_after,
          "a message that keeps failing with a transient error (store or sink down) this long goes to "
          "the quarantine (`mxgate quarantine list`); `0s`: retry for ever");
    return t;
  }();
  return t;
}

}  // namespace mx::pipeline
