/// The exporter's own version, printed by --version and exported as build info.
public enum ExporterBuild {
    public static let version = "0.1.0"
    public static let revision = "unknown"
    #if compiler(>=6.3)
    static let swiftVersion = "6.3"
    #elseif compiler(>=6.2)
    static let swiftVersion = "6.2"
    #else
    static let swiftVersion = "6.x"
    #endif
}
