/// Failure codes a dqlite server puts in FAILURE responses (reference/dqlite.md §1.8).
public enum ErrorCode {
    public static let sqliteError: UInt64 = 1
    public static let sqliteAbort: UInt64 = 4
    public static let sqliteBusy: UInt64 = 5
    public static let sqliteLocked: UInt64 = 6
    public static let sqliteIOErr: UInt64 = 10
    public static let sqliteNotFound: UInt64 = 12
    public static let sqliteFull: UInt64 = 13
    public static let sqliteTooBig: UInt64 = 18
    public static let sqliteConstraint: UInt64 = 19

    /// SQLITE_IOERR_NOT_LEADER: the request needs the leader and this node is not it.
    public static let notLeader: UInt64 = 10 | 40 << 8
    /// SQLITE_IOERR_LEADERSHIP_LOST: leadership was lost while a commit was in flight; its outcome is unknown.
    public static let leadershipLost: UInt64 = 10 | 41 << 8
    /// Codes of older servers for the same two conditions.
    public static let legacyNotLeader: UInt64 = 10 | 32 << 8
    public static let legacyLeadershipLost: UInt64 = 10 | 33 << 8

    public static let dqliteProto: UInt64 = 1001
    public static let dqliteNotFound: UInt64 = 1002
    public static let dqliteParse: UInt64 = 1005

    /// The primary SQLite result code (low byte of an extended code).
    public static func primary(_ code: UInt64) -> UInt64 { code & 0xFF }
}
