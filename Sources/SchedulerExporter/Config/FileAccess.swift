#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small POSIX file helpers: the exporter reads a handful of small local files (tokens, config,
/// manifests) and must not pull Foundation's file APIs into the poll path for that.
public enum FileAccess {
    public struct Status: Sendable, Equatable {
        public var mode: UInt32       // permission bits only
        public var uid: UInt32
        public var gid: UInt32
        public var size: Int64
        public var modified: Double   // unix seconds, with nanoseconds
        public var inode: UInt64
    }

    public static func isReadable(_ path: String) -> Bool { access(path, R_OK) == 0 }

    public static func status(_ path: String) -> Result<Status, FileError> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(FileError(path: path, errno: errno)) }
        return .success(Status(
            mode: UInt32(info.st_mode) & 0o7777, uid: info.st_uid, gid: info.st_gid, size: Int64(info.st_size),
            modified: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9, inode: UInt64(info.st_ino)))
    }

    /// Reads a whole small file; nil when it cannot be read or exceeds `limit` bytes.
    public static func read(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 { if errno == EINTR { continue }; return nil }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit { return nil }
        }
    }

    /// The names in a directory (without `.` and `..`), at most `limit` of them, unsorted.
    public static func directoryEntries(_ path: String, limit: Int = 1 << 20) -> Result<[String], FileError> {
        guard let directory = opendir(path) else { return .failure(FileError(path: path, errno: errno)) }
        defer { closedir(directory) }
        var names: [String] = []
        while names.count < limit, let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return .success(names)
    }

    public static func readText(_ path: String, limit: Int = 1 << 20) -> String? {
        read(path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
    }
}

public struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let errno: Int32
    public var description: String { "\(path): \(String(cString: strerror(errno)))" }
}
