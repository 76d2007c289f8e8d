//! `testbed up|down|env|serve`: the local control plane, for a person at a
//! terminal. Run it through `tests/e2e/testbed`, which builds what is missing.
//!
//! `serve` runs a testbed in the foreground until Ctrl-C or SIGTERM. `up`
//! starts `serve` in the background and returns once it is ready; `env` prints
//! the shell lines that point `kubectl` at it; `down` stops it. What `up`
//! started is recorded in `$ESHOP_CACHE_DIR/testbed/` (default
//! `~/.cache/eshop/testbed/`).

use std::{
    fs,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use eshop_testbed::{Testbed, cache_dir};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: testbed up|down|env|serve

  up     start a control plane in the background and wait until it is ready
  env    print shell lines that point kubectl at it:  eval \"$(tests/e2e/testbed env)\"
  down   stop it and remove its files
  serve  run one in the foreground until Ctrl-C";

/// How long `up` waits for `serve` to be ready, and `down` for it to stop.
const TIMEOUT: Duration = Duration::from_secs(180);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    let state = State::new(cache_dir().join("testbed"));
    let result = match command.as_str() {
        "up" => up(&state),
        "down" => down(&state),
        "env" => env(&state),
        "serve" => serve(&state).await,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("testbed {command}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn up(state: &State) -> anyhow::Result<()> {
    if let Some(pid) = state.running_pid() {
        println!("# the testbed is already up (pid {pid})");
        return env(state);
    }
    state.clear();
    fs::create_dir_all(&state.dir).context("creating the state directory")?;
    let log = fs::File::create(state.log()).context("creating serve.log")?;
    let mut serve = Command::new(std::env::current_exe()?)
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting `testbed serve`")?;
    let deadline = Instant::now() + TIMEOUT;
    while !state.env_file().exists() {
        if let Some(status) = serve.try_wait()? {
            bail!(
                "the testbed did not start ({status}):\n{}",
                fs::read_to_string(state.log()).unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "the testbed was not ready after {TIMEOUT:?}; see {}",
                state.log().display()
            );
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    println!("# the testbed is up; point kubectl at it with:");
    println!("#   eval \"$(tests/e2e/testbed env)\"");
    env(state)
}

fn down(state: &State) -> anyhow::Result<()> {
    let Some(pid) = state.running_pid() else {
        state.clear();
        println!("the testbed is not running");
        return Ok(());
    };
    kill(pid, Signal::SIGTERM).context("signalling the testbed")?;
    let deadline = Instant::now() + TIMEOUT;
    while is_alive(pid) {
        if Instant::now() > deadline {
            bail!("the testbed (pid {pid}) did not stop within {TIMEOUT:?}");
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    state.clear();
    println!("the testbed is down");
    Ok(())
}

fn env(state: &State) -> anyhow::Result<()> {
    if state.running_pid().is_none() {
        bail!("the testbed is not up: run tests/e2e/testbed up");
    }
    print!("{}", fs::read_to_string(state.env_file())?);
    Ok(())
}

async fn serve(state: &State) -> anyhow::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let testbed = Testbed::start().await?;
    let env = format!(
        "export KUBECONFIG='{}'\nexport PATH='{}':\"$PATH\"\n",
        testbed.kubeconfig().display(),
        testbed.kubectl_dir().display()
    );
    fs::create_dir_all(&state.dir)?;
    fs::write(state.pid_file(), std::process::id().to_string())?;
    // Written last and renamed into place: `up` takes its existence as ready.
    let partial = state.dir.join("env.partial");
    fs::write(&partial, &env)?;
    fs::rename(&partial, state.env_file())?;
    println!(
        "testbed ready in {:.1}s (Ctrl-C stops it)\n{env}",
        testbed.started_in().as_secs_f64()
    );
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    drop(testbed);
    state.clear();
    Ok(())
}

/// The files through which `up`, `env` and `down` find the background testbed.
struct State {
    dir: PathBuf,
}

impl State {
    fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }

    fn env_file(&self) -> PathBuf {
        self.dir.join("env")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("serve.log")
    }

    /// The pid of a `testbed serve` that is still running, if any.
    fn running_pid(&self) -> Option<Pid> {
        let pid = Pid::from_raw(
            fs::read_to_string(self.pid_file())
                .ok()?
                .trim()
                .parse()
                .ok()?,
        );
        let cmdline = fs::read(Path::new("/proc").join(pid.to_string()).join("cmdline")).ok()?;
        let is_serve = cmdline.split(|&byte| byte == 0).any(|arg| arg == b"serve");
        is_serve.then_some(pid)
    }

    fn clear(&self) {
        for file in [self.pid_file(), self.env_file()] {
            let _ = fs::remove_file(file);
        }
    }
}

fn is_alive(pid: Pid) -> bool {
    kill(pid, None).is_ok()
}
