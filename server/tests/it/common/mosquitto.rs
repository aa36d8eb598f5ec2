//! A real Mosquitto 2 (Debian's `mosquitto`) on a free loopback port, with
//! the dynamic-security plugin, set up for kring exactly as
//! `docs/operations.md` ("An external MQTT broker") says; stopped when
//! dropped.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server's own login at the broker (the plugin's admin).
pub const SERVER_USER: &str = "kring-server";
pub const SERVER_PASSWORD: &str = "kring-server-test-password";
const PLUGIN: &str = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so";

pub struct Mosquitto {
    pub addr: SocketAddr,
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn plugin_path() -> String {
    // Debian names the directory after the architecture
    let arch = std::env::consts::ARCH;
    let path = PLUGIN.replace("x86_64", arch);
    assert!(
        Path::new(&path).exists(),
        "{path} missing: install Debian's mosquitto (cargo xtask deps)"
    );
    path
}

/// A new dynamic-security file with the server's admin login, and
/// mosquitto on `addr` with it; returns once it accepts connections.
async fn launch(dir: &Path, addr: SocketAddr) -> Child {
    let file = dir.join("dynsec.json");
    run(Command::new("mosquitto_ctrl")
        .args(["dynsec", "init"])
        .arg(&file)
        .args([SERVER_USER, SERVER_PASSWORD]));
    // started as root, mosquitto would switch to its own user, who cannot
    // write our temp dir (and then keeps changes only in memory)
    let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let conf = format!(
        "per_listener_settings false\n\
         listener {port} 127.0.0.1\n\
         allow_anonymous false\n\
         persistence false\n\
         set_tcp_nodelay true\n\
         log_dest stderr\n\
         log_type error\n\
         log_type warning\n\
         {user}\
         plugin {plugin}\n\
         plugin_opt_config_file {file}\n",
        port = addr.port(),
        user = if as_root { "user root\n" } else { "" },
        plugin = plugin_path(),
        file = file.display(),
    );
    let conf_path = dir.join("mosquitto.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start mosquitto");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .expect("run a mosquitto tool (cargo xtask deps installs them)");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Mosquitto {
    pub async fn start() -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = launch(dir.path(), addr).await;
        let m = Mosquitto { addr, child, dir };
        m.set_up();
        m
    }

    /// Stops the broker and starts an empty one on the same port: it lost
    /// every device's login (a new machine, a lost file).
    pub async fn restart_empty(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::remove_file(self.dir.path().join("dynsec.json")).unwrap();
        self.child = launch(self.dir.path(), self.addr).await;
        self.set_up();
    }

    /// docs/operations.md: the server's login may publish nudges (and
    /// clear a revoked device's presence) and read the devices' presence.
    fn set_up(&self) {
        self.ctrl(&["createRole", "kring-server-topics"]);
        self.ctrl(&[
            "addRoleACL",
            "kring-server-topics",
            "publishClientSend",
            "kring/v1/devices/#",
            "allow",
        ]);
        self.ctrl(&[
            "addRoleACL",
            "kring-server-topics",
            "subscribePattern",
            "kring/v1/devices/+/presence",
            "allow",
        ]);
        self.ctrl(&["addClientRole", SERVER_USER, "kring-server-topics"]);
    }

    /// `mosquitto_ctrl dynsec ARGS` as the server's admin login.
    pub fn ctrl(&self, args: &[&str]) -> String {
        run(Command::new("mosquitto_ctrl")
            .args(["-h", "127.0.0.1", "-p"])
            .arg(self.addr.port().to_string())
            .args(["-u", SERVER_USER, "-P", SERVER_PASSWORD, "dynsec"])
            .args(args))
    }

    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// Points a server's settings at this broker in dynamic-security mode.
    pub fn configure(&self, s: &mut kring_server::settings::Settings) {
        s.mqtt.external_url = Some(self.url());
        s.mqtt.external_username = SERVER_USER.into();
        s.mqtt.external_password = SERVER_PASSWORD.into();
        s.mqtt.external_auth = kring_server::settings::ExternalAuthMode::MosquittoDynsec;
        s.mqtt.public_host = "127.0.0.1".into();
        s.mqtt.public_port = self.addr.port();
    }
}
