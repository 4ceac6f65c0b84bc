//! Claims: which worker runs which trial, kept as files in the results folder so that workers
//! in several processes, on several hosts, share one sweep with no server.
//!
//! The protocol (ARCHITECTURE.md, "sweep"):
//! - **claim**: create `claims/<id>.toml` with `O_CREAT | O_EXCL` (one creator wins, on local
//!   filesystems and NFS alike), holding host, pid, the pid's start time, Slurm job, start,
//!   heartbeat, current step and a token that names this claim.
//! - **heartbeat**: the holder rewrites its claim through the handle it created it with (never
//!   by name: a claim taken over is a file the old holder can no longer reach) every
//!   `timeout / 6`, which also refreshes its modification time.
//! - **stale**: the modification time is older than the timeout, or the holder is on this host
//!   and its process is gone (or its pid now names another process).
//! - **takeover**: under the folder lock, the claim is checked again, renamed away and
//!   created anew; two workers cannot both take one over.
//! - **release**: the holder removes its claim (only if it still holds the token) after the
//!   trial's result is committed, or when it stops without one (Ctrl-C, SIGTERM, a Slurm
//!   preemption): the trial is then claimable at once.
//!
//! (Over 300 lines: the protocol and its tests — a quarter of the file — read best side by side.)

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use rnnlab_spec::files;
use rnnlab_spec::vocab::layout;

use crate::results::{ResultsDir, ResultsError};

/// How long a claim may go without a heartbeat before another worker takes it over.
pub const DEFAULT_TIMEOUT: Duration = layout::CLAIM_TIMEOUT;

/// What a claim file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimInfo {
    pub host: String,
    pub pid: u32,
    /// Clock ticks since boot when `pid` started (`/proc/<pid>/stat`), if known.
    #[serde(default)]
    pub pid_start: Option<u64>,
    /// `SLURM_ARRAY_JOB_ID_SLURM_ARRAY_TASK_ID`, or `SLURM_JOB_ID`, or empty.
    #[serde(default)]
    pub job: String,
    pub started: String,
    pub heartbeat: String,
    /// The step of the trial's last evaluation, of `total_steps`.
    #[serde(default)]
    pub step: usize,
    #[serde(default)]
    pub total_steps: usize,
    pub token: String,
}

/// A claim as another worker (or `rnnlab status`) sees it.
#[derive(Debug, Clone)]
pub struct ClaimView {
    pub id: String,
    /// `None` when the file could not be read whole (being rewritten, or damaged).
    pub info: Option<ClaimInfo>,
    /// Since the last heartbeat.
    pub age: Duration,
    pub stale: bool,
}

/// The Slurm job this process runs in, if any.
pub fn slurm_job() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
        (Some(j), Some(t)) => format!("{j}_{t}"),
        _ => var("SLURM_JOB_ID").unwrap_or_default(),
    }
}

fn now_text() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

struct Held {
    file: fs::File,
    info: ClaimInfo,
    written: Instant,
}

/// The claims of one results folder, and the ones this process holds.
pub struct Claims {
    dir: PathBuf,
    timeout: Duration,
    held: Mutex<HashMap<String, Held>>,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims").field("dir", &self.dir).field("timeout", &self.timeout).finish()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ResultsError + '_ {
    move |error| ResultsError::Io { path: path.to_path_buf(), error }
}

impl Claims {
    /// The claims folder of `results` (created, refusing a link in its place).
    pub fn open(results: &ResultsDir, timeout: Duration) -> Result<Self, ResultsError> {
        let dir = results.root.join(layout::CLAIMS);
        files::real_dir(&dir).map_err(io(&dir))?;
        Ok(Claims { dir, timeout, held: Mutex::new(HashMap::new()) })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.toml"))
    }

    /// Claims trial `id` for this process: `Ok(true)` if it is now ours, `Ok(false)` if another
    /// live worker (or this process) holds it. A stale claim is taken over under the folder
    /// lock.
    pub fn try_claim(&self, id: &str, results: &ResultsDir) -> Result<bool, ResultsError> {
        if self.held().contains_key(id) {
            return Ok(false);
        }
        if self.create(id)? {
            return Ok(true);
        }
        let Some(view) = self.view(id) else {
            // Released between our attempt and the look: try once more.
            return self.create(id);
        };
        if !view.stale {
            return Ok(false);
        }
        let _lock = results.lock()?;
        // Checked again under the lock: another worker may have taken it over meanwhile.
        match self.view(id) {
            Some(v) if !v.stale => return Ok(false),
            Some(_) => {
                let path = self.path(id);
                let grave = self.dir.join(format!(".stale-{id}-{}", token()));
                match fs::rename(&path, &grave) {
                    Ok(()) => fs::remove_file(&grave).map_err(io(&grave))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&path)(e)),
                }
            }
            None => {}
        }
        self.create(id)
    }

    /// `O_EXCL` creation of the claim file; `Ok(false)` if it exists.
    fn create(&self, id: &str) -> Result<bool, ResultsError> {
        let path = self.path(id);
        let mut file = match fs::File::create_new(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(io(&path)(e)),
        };
        let pid = std::process::id();
        let info = ClaimInfo {
            host: files::hostname().to_string(),
            pid,
            pid_start: files::process_start(pid),
            job: slurm_job(),
            started: now_text(),
            heartbeat: now_text(),
            step: 0,
            total_steps: 0,
            token: token(),
        };
        let text = toml::to_string(&info).expect("claims serialise");
        file.write_all(text.as_bytes()).map_err(io(&path))?;
        self.held().insert(id.to_string(), Held { file, info, written: Instant::now() });
        Ok(true)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the step of a held trial's last evaluation (written at most once a second).
    pub fn progress(&self, id: &str, step: usize, total_steps: usize) {
        let mut held = self.held();
        if let Some(h) = held.get_mut(id) {
            h.info.step = step;
            h.info.total_steps = total_steps;
            if h.written.elapsed() >= Duration::from_secs(1) {
                rewrite(h);
            }
        }
    }

    /// Rewrites every held claim (the heartbeat).
    pub fn beat(&self) {
        for h in self.held().values_mut() {
            rewrite(h);
        }
    }

    /// How often [`Claims::beat`] must run.
    pub fn beat_every(&self) -> Duration {
        (self.timeout / 6).max(Duration::from_millis(100))
    }

    /// Whether this process still holds trial `id`'s claim (no one took it over).
    pub fn owns(&self, id: &str) -> bool {
        let token = match self.held().get(id) {
            Some(h) => h.info.token.clone(),
            None => return false,
        };
        read_info(&self.path(id)).is_some_and(|i| i.token == token)
    }

    /// Gives up trial `id`: its claim file is removed if it is still ours.
    pub fn release(&self, id: &str) {
        let owned = self.owns(id);
        if self.held().remove(id).is_some() && owned {
            let _ = fs::remove_file(self.path(id));
        }
    }

    /// Releases every claim this process holds (a stop without results).
    pub fn release_all(&self) {
        let ids: Vec<String> = self.held().keys().cloned().collect();
        for id in ids {
            self.release(&id);
        }
    }

    /// The claim on trial `id`, if there is one.
    pub fn view(&self, id: &str) -> Option<ClaimView> {
        view_of(&self.path(id), id, self.timeout)
    }

    /// Every claim in the folder.
    pub fn list(&self) -> Vec<ClaimView> {
        list(&self.dir, self.timeout)
    }
}

/// Every claim in a claims folder, by trial id.
pub fn list(dir: &Path, timeout: Duration) -> Vec<ClaimView> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut views: Vec<ClaimView> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(".toml").filter(|_| !name.starts_with('.'))?.to_string();
            view_of(&e.path(), &id, timeout)
        })
        .collect();
    views.sort_by(|a, b| a.id.cmp(&b.id));
    views
}

fn view_of(path: &Path, id: &str, timeout: Duration) -> Option<ClaimView> {
    let meta = fs::symlink_metadata(path).ok()?;
    let age = meta.modified().ok().and_then(|t| SystemTime::now().duration_since(t).ok()).unwrap_or_default();
    let info = read_info(path);
    let gone = info.as_ref().is_some_and(|i| {
        i.host == files::hostname()
            && (!files::pid_alive(i.pid) || (i.pid_start.is_some() && files::process_start(i.pid) != i.pid_start))
    });
    Some(ClaimView { id: id.to_string(), stale: gone || age > timeout, info, age })
}

fn read_info(path: &Path) -> Option<ClaimInfo> {
    toml::from_str(&fs::read_to_string(path).ok()?).ok()
}

/// Rewrites a held claim in place through its own handle (a claim taken over and renamed away
/// is then a file no one reads, never the new holder's).
fn rewrite(h: &mut Held) {
    h.info.heartbeat = now_text();
    let text = toml::to_string(&h.info).expect("claims serialise");
    // Pad to the old length rather than truncate first, so that a reader never sees an
    // empty file; TOML ignores the trailing blank.
    let old = h.file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mut bytes = text.into_bytes();
    if bytes.len() < old {
        bytes.resize(old, b' ');
    }
    let _ = h.file.write_all_at(&bytes, 0);
    h.written = Instant::now();
}

/// A token no other claim has: host, pid, time and a counter.
fn token() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{}-{}-{nanos:x}-{}", files::host_tag(), std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> (tempfile::TempDir, ResultsDir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ResultsDir::new(tmp.path().join("x"));
        fs::create_dir_all(&dir.root).unwrap();
        (tmp, dir)
    }

    #[test]
    fn a_trial_is_claimed_once_and_free_again_after_release() {
        let (_tmp, dir) = folder();
        let a = Claims::open(&dir, DEFAULT_TIMEOUT).unwrap();
        let b = Claims::open(&dir, DEFAULT_TIMEOUT).unwrap();
        assert!(a.try_claim("t1", &dir).unwrap());
        assert!(!b.try_claim("t1", &dir).unwrap(), "a live claim of this very process is not stale");
        assert!(!a.try_claim("t1", &dir).unwrap());
        assert!(a.owns("t1") && !b.owns("t1"));
        a.progress("t1", 0, 100);
        std::thread::sleep(Duration::from_millis(1100));
        a.progress("t1", 40, 100);
        let v = b.view("t1").unwrap();
        assert_eq!((v.info.as_ref().unwrap().step, v.stale), (40, false));
        a.release("t1");
        assert!(b.view("t1").is_none());
        assert!(b.try_claim("t1", &dir).unwrap());
    }

    #[test]
    fn a_claim_of_a_dead_process_or_without_heartbeat_is_taken_over() {
        let (_tmp, dir) = folder();
        let me = Claims::open(&dir, DEFAULT_TIMEOUT).unwrap();
        let dead = ClaimInfo {
            host: files::hostname().to_string(),
            pid: 4_194_305,
            pid_start: None,
            job: String::new(),
            started: now_text(),
            heartbeat: now_text(),
            step: 3,
            total_steps: 10,
            token: "old".into(),
        };
        let path = dir.root.join("claims/t1.toml");
        fs::write(&path, toml::to_string(&dead).unwrap()).unwrap();
        assert!(me.view("t1").unwrap().stale);
        assert!(me.try_claim("t1", &dir).unwrap());
        assert!(me.owns("t1"));

        // Another host's claim: live until its heartbeat is older than the timeout.
        let other = ClaimInfo { host: "elsewhere".into(), pid: 1, ..dead };
        fs::write(dir.root.join("claims/t2.toml"), toml::to_string(&other).unwrap()).unwrap();
        let short = Claims::open(&dir, Duration::from_millis(300)).unwrap();
        assert!(!short.try_claim("t2", &dir).unwrap());
        std::thread::sleep(Duration::from_millis(400));
        assert!(short.list().iter().any(|v| v.id == "t2" && v.stale));
        assert!(short.try_claim("t2", &dir).unwrap());
    }

    #[test]
    fn a_holder_whose_claim_was_taken_over_no_longer_owns_it_nor_removes_it() {
        let (_tmp, dir) = folder();
        let slow = Claims::open(&dir, Duration::from_millis(200)).unwrap();
        assert!(slow.try_claim("t1", &dir).unwrap());
        // A different host's view: the claim goes stale by age alone.
        std::thread::sleep(Duration::from_millis(300));
        let path = dir.root.join("claims/t1.toml");
        let mut info: ClaimInfo = toml::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        info.host = "elsewhere".into();
        fs::write(&path, toml::to_string(&info).unwrap()).unwrap();
        filetime_back(&path, Duration::from_secs(1));
        let taker = Claims::open(&dir, Duration::from_millis(200)).unwrap();
        assert!(taker.try_claim("t1", &dir).unwrap());
        assert!(!slow.owns("t1"));
        slow.beat();
        slow.release("t1");
        assert!(taker.owns("t1"), "the old holder's heartbeat and release do not touch the new claim");
    }

    fn filetime_back(path: &Path, by: Duration) {
        let f = fs::OpenOptions::new().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - by).unwrap();
    }
}
