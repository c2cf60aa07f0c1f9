import CurlHTTP
import Foundation
import Testing
@testable import SchedulerExporter

/// Where `--web.kubernetes-auth` sends its reviews: a kubeconfig's current context, or the pod's
/// own service account; what cannot work is a start-up error naming it.
@Suite struct KubeconfigTests {
    let directory = NSTemporaryDirectory() + "kse-kubeconfig-" + UUID().uuidString

    func write(_ name: String, _ text: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func currentContextWithRelativeFilesAndCAData() throws {
        _ = try write("ca.crt", "pem")
        _ = try write("token", "t")
        let path = try write("kubeconfig", """
            current-context: b
            clusters:
              - {name: one, cluster: {server: "https://10.0.0.1:6443/", certificate-authority: ca.crt, tls-server-name: kubernetes}}
              - {name: two, cluster: {server: "https://10.0.0.2:6443", certificate-authority-data: "\(Data("PEM DATA".utf8).base64EncodedString())"}}
            users:
              - {name: file, user: {tokenFile: token}}
              - {name: inline, user: {token: abc}}
            contexts:
              - {name: a, context: {cluster: one, user: file}}
              - {name: b, context: {cluster: two, user: inline}}
            """)
        let access = try APIServerAccess.kubeconfig(path: path)
        #expect(access.url == "https://10.0.0.2:6443")
        #expect(access.tls.caData == Array("PEM DATA".utf8))
        #expect(access.token == BearerToken("abc"))
        #expect(access.tokenFile == nil)

        let other = try APIServerAccess.kubeconfig(path: try write("kubeconfig-a", try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "current-context: b", with: "current-context: a")))
        #expect(other.url == "https://10.0.0.1:6443", "a trailing slash is dropped")
        #expect(other.tls.caFile == "\(directory)/ca.crt", "relative to the kubeconfig")
        #expect(other.tls.serverName == "kubernetes")
        #expect(other.tokenFile == "\(directory)/token")
    }

    @Test(arguments: [
        ("clusters: []\nusers: []\ncontexts: []\n", "no current-context"),
        ("current-context: x\ncontexts: []\n", "no contexts entry named \"x\""),
        ("current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: \"ftp://h\"}}]\nusers: [{name: u, user: {}}]\n",
         "server must be an http(s) URL"),
        ("current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: \"https://h\", certificate-authority-data: \"%%\"}}]\nusers: [{name: u, user: {}}]\n",
         "certificate-authority-data is not base64"),
        ("current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: \"https://h\"}}]\nusers: [{name: u, user: {client-key-data: x}}]\n",
         "client-key-data is not supported"),
    ])
    func whatCannotWorkIsNamed(yaml: String, message: String) throws {
        let path = try write("bad-\(UUID().uuidString)", yaml)
        do {
            _ = try APIServerAccess.kubeconfig(path: path)
            Issue.record("accepted")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func inClusterNeedsTheServiceEnvironmentAndTheAccountFiles() throws {
        _ = try write("token", "t")
        _ = try write("ca.crt", "pem")
        let access = try APIServerAccess.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"],
                                                   directory: directory)
        #expect(access.url == "https://[fd00::1]:443")
        #expect(access.tokenFile == "\(directory)/token")
        #expect(access.tls.caFile == "\(directory)/ca.crt")
        #expect(throws: ConfigError.self) { try APIServerAccess.inCluster(environment: [:], directory: directory) }
        #expect(throws: ConfigError.self) {
            try APIServerAccess.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"], directory: directory + "/none")
        }
    }

    @Test func onlyBearerTokensAreReviewed() {
        #expect(KubernetesAuthorizer.bearerToken("Bearer abc") == "abc")
        #expect(KubernetesAuthorizer.bearerToken("bearer  abc ") == "abc")
        #expect(KubernetesAuthorizer.bearerToken("Basic YTpi") == nil)
        #expect(KubernetesAuthorizer.bearerToken("Bearer ") == nil)
        #expect(KubernetesAuthorizer.bearerToken(nil) == nil)
    }
}
