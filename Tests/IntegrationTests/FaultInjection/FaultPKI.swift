import Foundation

/// Throw-away TLS material made with the openssl CLI: the CA the exporter trusts, a serving
/// certificate from it for 127.0.0.1 and 127.0.0.2, an expired one from the same CA, and one from
/// a CA the exporter does not know.
struct FaultPKI {
    let directory: String
    var caFile: String { "\(directory)/ca.pem" }
    var serverCert: String { "\(directory)/server.pem" }
    var serverKey: String { "\(directory)/server.key" }
    var expiredCert: String { "\(directory)/expired.pem" }
    var expiredKey: String { "\(directory)/expired.key" }
    var untrustedCert: String { "\(directory)/untrusted.pem" }
    var untrustedKey: String { "\(directory)/untrusted.key" }

    init(in dir: TempDirectory) throws {
        directory = "\(dir.path)/fault-pki"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
            [req]
            distinguished_name = dn
            [dn]
            [v3_ca]
            basicConstraints = critical,CA:TRUE
            keyUsage = critical,keyCertSign,cRLSign
            subjectKeyIdentifier = hash
            """.write(toFile: "\(directory)/ca.cnf", atomically: true, encoding: .utf8)
        try """
            basicConstraints = CA:FALSE
            keyUsage = critical,digitalSignature
            extendedKeyUsage = serverAuth
            subjectAltName = IP:127.0.0.1,IP:127.0.0.2,DNS:localhost
            """.write(toFile: "\(directory)/server.ext", atomically: true, encoding: .utf8)
        for (name, subject) in [("ca", "/CN=Fault Test CA"), ("other-ca", "/CN=Unknown Test CA")] {
            try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", "\(name).key", "-out", "\(name).pem", "-days", "3", "-subj", subject,
                         "-config", "ca.cnf", "-extensions", "v3_ca"])
        }
        for (name, issuer, days) in [("server", "ca", "2"), ("expired", "ca", "-1"), ("untrusted", "other-ca", "2")] {
            try openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=kube-scheduler"])
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(issuer).pem", "-CAkey", "\(issuer).key",
                         "-set_serial", "\(Int.random(in: 1000...1_000_000))", "-days", days, "-extfile", "server.ext",
                         "-out", "\(name).pem"])
        }
    }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("openssl \(arguments.joined(separator: " ")): \(String(decoding: output, as: UTF8.self))")
        }
    }
}
