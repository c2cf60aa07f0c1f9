// placeholder: filled by the SchedulingLatency work
