// pipeline/pipeline_config.h — the [pipeline] section, owned by the pipeline module
// (config_table.h): whether this process runs the spool consumer, and how it shares the
// CPU with reception.
#pragma once

#include <cstdint>

#include "core/config_table.h"

namespace mx::pipeline {

struct PipelineSettings {
  bool enabled = true;      // run the spool consumer in this process
  bool parse = true;        // parse MIME into JSON and extract attachments
  uint32_t nice = 10;       // added to the pipeline thread's nice value
  bool sched_idle = true;   // SCHED_IDLE: only CPU time that reception leaves free
  uint32_t batch = 256;     // records per store sync + event publish + checkpoint
  Millis give_up_after{3'600'000};  // a message failing transiently this long: quarantined; 0 never
};

const config::Table<PipelineSettings>& pipelineTable();

}  // namespace mx::pipeline
