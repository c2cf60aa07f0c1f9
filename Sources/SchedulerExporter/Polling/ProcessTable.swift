/// The poll stage's look at the node's processes (`/proc` under the host root; with `hostPID:
/// true` the container's `/proc` is the node's): which ones run a scheduler, with their argv.
enum ProcessTable {
    /// kube-scheduler's command line is a few KB; a bound keeps a hostile one from costing more.
    static let cmdlineLimit = 256 << 10

    /// Every process under `procRoot` whose argv runs a scheduler, by pid. With `hint` (the pid
    /// that served the target last poll) still running one, only that process is read: a full scan
    /// opens every process's cmdline, which at a few hundred processes per node is the bulk of the
    /// cost, and the scheduler's pid changes only when it restarts (then the hint fails and the
    /// next scan finds the new one).
    static func schedulers(procRoot: String, hint: Int?) -> Result<[ProcessObservation], FileError> {
        if let hint, let process = read(procRoot: procRoot, pid: hint), SchedulerCommandLine(arguments: process.arguments) != nil {
            return .success([process])
        }
        let names: [String]
        switch FileAccess.directoryEntries(procRoot) {
        case .failure(let error): return .failure(error)
        case .success(let entries): names = entries
        }
        var found: [ProcessObservation] = []
        for name in names where !name.isEmpty && name.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            guard let pid = Int(name), let process = read(procRoot: procRoot, pid: pid),
                  SchedulerCommandLine(arguments: process.arguments) != nil else { continue }
            found.append(process)
        }
        return .success(found.sorted { $0.pid < $1.pid })
    }

    /// `/proc/PID/cmdline`: NUL-separated arguments; a process title written over argv leaves
    /// NUL padding behind, hence empty entries are dropped.
    static func read(procRoot: String, pid: Int) -> ProcessObservation? {
        guard let bytes = FileAccess.read("\(procRoot)/\(pid)/cmdline", limit: cmdlineLimit) else { return nil }
        let arguments = bytes.split(separator: 0, omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) }
        return ProcessObservation(pid: pid, arguments: arguments)
    }
}
