// placeholder: filled by the SchedulerSimulator work
