//! Writing files the way every rnnlab writer must (results folders, reports, predictions):
//! whole or not at all, never through a symbolic link, and without leaving litter behind.
//!
//! - [`write_atomic`] creates a temporary file with `O_CREAT | O_EXCL` under an unpredictable
//!   name in the destination folder (`.<name>.tmp-<pid>.<host>-<random>`, by the `tempfile`
//!   crate; `<host>` is a short hash of the host name, so that workers on several hosts
//!   sharing a folder tell their litter apart),
//!   writes and fsyncs it, then renames it over the destination. A link planted at the
//!   destination is replaced, not followed; one planted at a temporary name cannot be guessed.
//! - [`real_dir`] creates a folder, or accepts an existing one only if it is not a link.
//! - [`remove_stale_temps`] removes temporary files and folders whose owning process is gone.

use std::io::{self, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The marker in every temporary name: `.<name>.tmp-<pid>.<host>-<random>` (files) and
/// `.tmp-<trial id>-<pid>.<host>-<random>` (trial folders).
pub const TMP_MARK: &str = ".tmp-";

/// How old a temporary of another host must be before it counts as litter (its owner cannot
/// be asked whether it is alive; no rnnlab write takes this long).
pub const FOREIGN_TEMP_AGE: Duration = Duration::from_secs(24 * 3600);

/// This machine's name (`/proc/sys/kernel/hostname`, else `/etc/hostname`, else `$HOSTNAME`).
pub fn hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|s| s.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into())
    })
}

/// Eight hex digits naming this host in temporary names (FNV-1a of the host name).
pub fn host_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| format!("{:08x}", fnv1a(hostname().as_bytes()) as u32))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// `<pid>.<host tag>`: who owns a temporary name.
fn owner_tag() -> String {
    format!("{}.{}", std::process::id(), host_tag())
}

/// Writes `path` atomically: a new temporary file in the same folder, fsync, rename.
/// The folder must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}{TMP_MARK}{}-", owner_tag()))
        .rand_bytes(8)
        // What `File::create` would give (0666 less the umask), not tempfile's private 0600:
        // collaborators on a shared filesystem read results like any other file.
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes a file the user named for output (`rnnlab predict -o`, `rnnlab reference --out`):
/// atomically ([`write_atomic`]) when `path` is new or a regular file, but in place when it
/// exists and is something else — a character device such as `/dev/null`, a FIFO,
/// `/dev/stdout` — so that what the user named is written to, never replaced by a regular
/// file (renaming a temporary file over `/dev/null` would take it away from the machine).
pub fn write_output(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(io::Error::other("is a folder; name a file")),
        Ok(m) if !m.is_file() => {
            let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
            f.write_all(bytes)?;
            f.flush()
        }
        _ => write_atomic(path, bytes),
    }
}

/// Creates a new folder `<parent>/.tmp-<tag>-<pid>.<host>-<random>` (with `mkdir`, which never
/// follows a link) and returns its path; the caller renames it into place or leaves it for
/// [`remove_stale_temps`].
pub fn temp_dir_in(parent: &Path, tag: &str) -> io::Result<std::path::PathBuf> {
    Ok(tempfile::Builder::new()
        .prefix(&format!("{TMP_MARK}{tag}-{}-", owner_tag()))
        .rand_bytes(8)
        .tempdir_in(parent)?
        .keep())
}

/// Makes sure `path` is a real folder: creates it (and missing parents) when absent, refuses a
/// symbolic link (or anything else) standing in its place.
pub fn real_dir(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            Err(io::Error::other("is a symbolic link; rnnlab writes no results through links (remove the link)"))
        }
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::other("exists but is not a folder")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir_all(path),
        Err(e) => Err(e),
    }
}

/// Who made a temporary name: a process id, and the host tag when the name has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempOwner {
    pub pid: u32,
    /// `None` in names made before host tags (rnnlab 0.1 wrote only on one host).
    pub host: Option<String>,
}

/// The owner in a temporary name made by this module (or by rnnlab before it, which named
/// them `.<name>.tmp-<pid>[-<random>]` and `.tmp-<id>-<pid>[-<random>]`), if `name` is one.
pub fn temp_owner(name: &str) -> Option<TempOwner> {
    if !name.starts_with('.') || !name.contains(TMP_MARK) {
        return None;
    }
    let after = &name[name.rfind(TMP_MARK)? + TMP_MARK.len()..];
    let parts: Vec<&str> = after.split('-').collect();
    // Files: `<owner>-<random>` (or the older `<pid>`); trial folders, named `.tmp-…`:
    // `<id>-<owner>-<random>` (or the older `<id>-<pid>`), where `<owner>` is `<pid>.<host>`.
    let at = usize::from(name.starts_with(TMP_MARK));
    if parts.len() > at + 2 {
        return None;
    }
    let owner = parts.get(at)?;
    let (pid, host) = match owner.split_once('.') {
        Some((pid, host)) => (pid, Some(host.to_string())),
        None => (*owner, None),
    };
    Some(TempOwner { pid: pid.parse().ok()?, host })
}

/// Whether process `pid` is running on this machine (`/proc/<pid>`); where that cannot be
/// told, every process counts as running, so nothing is removed.
pub fn pid_alive(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new(&format!("/proc/{pid}")).exists()
}

/// When process `pid` started, in clock ticks since boot (`/proc/<pid>/stat`, field 22): with
/// the pid it names one process, even after the pid is reused.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// Removes the temporary files and folders in `dir` whose owning process is gone (left by a
/// killed run). Returns how many were removed.
pub fn remove_stale_temps(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = temp_owner(&name) else { continue };
        let gone = match &owner.host {
            Some(h) if h != host_tag() => {
                // Another host's: only when it is far older than any write takes.
                let age = entry
                    .metadata()
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| SystemTime::now().duration_since(t).ok());
                age.is_some_and(|a| a > FOREIGN_TEMP_AGE)
            }
            _ => owner.pid != std::process::id() && !pid_alive(owner.pid),
        };
        if !gone {
            continue;
        }
        // `file_type` does not follow links: a planted link is removed, never its target.
        let path = entry.path();
        let result = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        match result {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// An I/O error's text without the `(os error N)` suffix the standard library appends.
pub fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_planted_at_any_name_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, "precious").unwrap();
        let results = dir.path().join("results");
        std::fs::create_dir(&results).unwrap();
        // At the destination: the link is replaced, its target untouched.
        std::os::unix::fs::symlink(&outside, results.join("runs.csv")).unwrap();
        // At the name the old writer used.
        std::os::unix::fs::symlink(&outside, results.join(format!(".runs.csv.tmp-{}", std::process::id()))).unwrap();
        write_atomic(&results.join("runs.csv"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(results.join("runs.csv")).unwrap(), "new");
        assert!(!std::fs::symlink_metadata(results.join("runs.csv")).unwrap().file_type().is_symlink());
    }

    #[test]
    fn written_files_have_the_permissions_of_the_umask_not_private_ones() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        write_atomic(&path, b"x").unwrap();
        let umask = {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap().to_string();
            u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
        };
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o666 & !umask);
    }

    #[test]
    fn linked_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("plots")).unwrap();
        let e = real_dir(&dir.path().join("plots")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        real_dir(&dir.path().join("a/b")).unwrap();
        real_dir(&dir.path().join("a/b")).unwrap();
    }

    #[test]
    fn temporaries_of_dead_processes_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        // A pid above the kernel's limit (4194304) is never alive.
        let dead = 4_194_305;
        let host = host_tag();
        for name in [
            format!(".runs.csv.tmp-{dead}.{host}-Ab12Cd34"),
            format!(".runs.csv.tmp-{dead}"),
            format!(".meta.toml.tmp-{me}.{host}-Ab12Cd34"),
            // Another host's, just written: its pid means nothing here.
            format!(".spec.toml.tmp-{dead}.0badc0de-Ab12Cd34"),
            "notes.txt".to_string(),
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join(format!(".tmp-0a1b2c3d4e-{dead}.{host}-Zz99Yy88"))).unwrap();
        std::fs::write(dir.path().join(format!(".tmp-0a1b2c3d4e-{dead}.{host}-Zz99Yy88/result.toml")), "x").unwrap();
        assert_eq!(remove_stale_temps(dir.path()).unwrap(), 3);
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        left.sort();
        assert_eq!(
            left,
            [
                format!(".meta.toml.tmp-{me}.{host}-Ab12Cd34"),
                format!(".spec.toml.tmp-{dead}.0badc0de-Ab12Cd34"),
                "notes.txt".to_string()
            ]
        );
        assert_eq!(temp_owner(".tmp-0a1b2c3d4e-77"), Some(TempOwner { pid: 77, host: None }));
        assert_eq!(
            temp_owner(".tmp-0a1b2c3d4e-77.0badc0de-x"),
            Some(TempOwner { pid: 77, host: Some("0badc0de".into()) })
        );
        assert_eq!(temp_owner(".lock"), None);
    }

    #[test]
    fn a_process_is_named_by_its_pid_and_start_time() {
        let me = std::process::id();
        let start = process_start(me).unwrap();
        assert_eq!(process_start(me), Some(start));
        assert_eq!(process_start(4_194_305), None);
        assert_eq!(host_tag().len(), 8);
    }

    #[test]
    fn io_errors_read_once() {
        let e = std::fs::read_dir("/nonexistent/x").unwrap_err();
        assert_eq!(io_text(&e), "No such file or directory");
    }

    #[test]
    fn output_onto_a_fifo_or_a_device_writes_to_it_and_leaves_it_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(&fifo).unwrap())
        };
        write_output(&fifo, b"a,b\n1,2\n").unwrap();
        assert_eq!(reader.join().unwrap(), b"a,b\n1,2\n");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");

        // A character device like /dev/null (1, 3), made with mknod: needs root.
        let null = dir.path().join("null");
        let made = std::process::Command::new("mknod").arg(&null).args(["c", "1", "3"]).output();
        if made.is_ok_and(|o| o.status.success()) {
            write_output(&null, b"discarded").unwrap();
            assert!(std::fs::symlink_metadata(&null).unwrap().file_type().is_char_device(), "the device was replaced");
        } else {
            eprintln!("skipped the character-device case: mknod needs root");
        }

        // A regular file is replaced atomically, a new one created.
        let file = dir.path().join("out.csv");
        write_output(&file, b"one").unwrap();
        write_output(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        assert!(write_output(dir.path(), b"x").is_err(), "a folder is refused");
    }
}
