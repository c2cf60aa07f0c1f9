/// Every check the exporter runs, in output order. A new check is a new file plus a line here.
public enum Checks {
    public static let all: [any Check] = [
        HealthCheck(),
        SchedulerInfoCheck(),
    ]
}
