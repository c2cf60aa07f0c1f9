import Exposition

#if canImport(Glibc)
import Glibc
#endif

/// The process_* families every Prometheus client library exposes, read from /proc/self.
enum ProcessMetrics {
    static func families() -> [OutputFamily] {
        var families: [OutputFamily] = []
        if let stat = FileAccess.readText("/proc/self/stat", limit: 4096), let close = stat.lastIndex(of: ")") {
            // Fields after "(comm)": state is field 3; utime 14, stime 15, starttime 22, vsize 23, rss 24.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            if let utime = field(14), let stime = field(15), ticks > 0 {
                families.append(.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                                         [OutputSample(value: (utime + stime) / ticks)]))
            }
            if let vsize = field(23) {
                families.append(.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", value: vsize))
            }
            if let rss = field(24) {
                families.append(.gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                                       value: rss * Double(sysconf(Int32(_SC_PAGESIZE)))))
            }
            if let start = field(22), let boot = bootTimeSeconds, ticks > 0 {
                families.append(.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                                       value: boot + start / ticks))
            }
        }
        if let open = openFileDescriptors() {
            families.append(.gauge("process_open_fds", "Number of open file descriptors.", value: Double(open)))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            families.append(.gauge("process_max_fds", "Maximum number of open file descriptors.", value: Double(limit.rlim_cur)))
        }
        return families
    }

    /// Read once: the boot time is a constant, and /proc/stat is the largest file read per scrape.
    private static let bootTimeSeconds: Double? = bootTime()

    private static func bootTime() -> Double? {
        guard let text = FileAccess.readText("/proc/stat", limit: 1 << 20) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingPrefix(" "))
        }
        return nil
    }

    private static func openFileDescriptors() -> Int? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
        }
        return count - 1  // the descriptor opendir itself holds
    }
}
