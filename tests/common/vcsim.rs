//! A real vcsim (govmomi's vCenter simulator, built by `scripts/lib.sh` into
//! `SWITCHYARD_VCSIM`) on a free loopback port, and the vSphere calls tests make on it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchyard_event_sources::vcenter::soap::{Client, ClientOptions, MoRef};

use super::processes::{terminate, wait_for_port};
use super::{free_port, TempDir};

pub const USER: &str = "vc-user";
pub const PASSWORD: &str = "vc-secret";

/// How to run the simulator.
#[derive(Debug, Clone, Default)]
pub struct VcsimOptions {
    /// Expire sessions idle this long.
    pub session_idle: Option<Duration>,
    /// Virtual machines per host (the model has 4 hosts).
    pub vms_per_host: Option<u32>,
}

pub struct Vcsim {
    child: Option<Child>,
    /// The SDK URL, `https://127.0.0.1:<port>/sdk`.
    pub url: String,
    /// The CA that signed the simulator's certificate (PEM).
    pub ca_file: PathBuf,
    dir: TempDir,
}

/// The vcsim program; a test that needs it fails loudly when it is missing.
pub fn program() -> PathBuf {
    let program = std::env::var_os("SWITCHYARD_VCSIM").map(PathBuf::from);
    match program {
        Some(path) if path.exists() => path,
        _ => panic!(
            "vcsim not found (SWITCHYARD_VCSIM): these tests need the real vCenter simulator; \
             run ./scripts/test, which installs Go and govmomi from Debian and builds it"
        ),
    }
}

impl Vcsim {
    /// Starts vcsim with HTTPS, one accepted user ([`USER`], [`PASSWORD`]).
    pub fn start(options: VcsimOptions) -> Self {
        let dir = TempDir::new("vcsim");
        let port = free_port();
        let ca_file = dir.0.join("ca.pem");
        let log = std::fs::File::create(dir.0.join("vcsim.log")).expect("log file");
        let mut command = Command::new(program());
        command
            .arg(format!("-listen=127.0.0.1:{port}"))
            .arg(format!("-tls-ca-out={}", ca_file.display()))
            .arg(format!("-username={USER}"))
            .arg(format!("-password={PASSWORD}"))
            .arg(format!("-vms={}", options.vms_per_host.unwrap_or(2)));
        if let Some(idle) = options.session_idle {
            command.arg(format!("-session-idle={}ms", idle.as_millis()));
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start vcsim");
        wait_for_port(
            ([127, 0, 0, 1], port).into(),
            Duration::from_secs(30),
            "vcsim",
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ca_file.exists() {
            assert!(Instant::now() < deadline, "vcsim wrote no CA file");
            std::thread::sleep(Duration::from_millis(20));
        }
        Vcsim {
            child: Some(child),
            url: format!("https://127.0.0.1:{port}/sdk"),
            ca_file,
            dir,
        }
    }

    /// Client options that trust the simulator's CA.
    pub fn options(&self) -> ClientOptions {
        ClientOptions::new(self.url.parse().expect("url")).ca_file(Some(self.ca_file.clone()))
    }

    /// A logged-in client.
    pub async fn client(&self) -> Client {
        let client = Client::connect(&self.options())
            .await
            .expect("connects to vcsim");
        client.login(USER, PASSWORD).await.expect("logs in");
        client
    }

    /// The `config` of an event source following this simulator.
    pub fn source_config(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url, "username": USER, "password": PASSWORD,
            "caFile": self.ca_file, "pollInterval": "PT2S"
        })
    }
}

impl Drop for Vcsim {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, Duration::from_secs(5));
        }
    }
}

/// Every virtual machine: (name, reference).
pub async fn virtual_machines(client: &Client) -> Vec<(String, MoRef)> {
    let content = client.service_content();
    let view_manager = MoRef::new("ViewManager", "ViewManager");
    let view = client
        .invoke(
            "CreateContainerView",
            &view_manager,
            &format!(
                "{}<type>VirtualMachine</type><recursive>true</recursive>",
                content.root_folder.to_xml("container")
            ),
        )
        .await
        .expect("container view");
    let view = view.child("returnval").expect("view reference");
    let view = MoRef::new(view.attribute("type").expect("type"), &view.text);
    let answer = client
        .invoke(
            "RetrievePropertiesEx",
            &content.property_collector,
            &format!(
                "<specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet></propSet>\
                 <objectSet>{}<skip>true</skip><selectSet xsi:type=\"TraversalSpec\"><name>view</name>\
                 <type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet></specSet><options/>",
                view.to_xml("obj")
            ),
        )
        .await
        .expect("retrieve properties");
    let mut machines: Vec<(String, MoRef)> = answer
        .children_named("returnval")
        .flat_map(|r| r.children_named("objects"))
        .filter_map(|o| {
            let obj = o.child("obj")?;
            let name = o.child("propSet")?.child_text("val")?.to_string();
            Some((name, MoRef::new(obj.attribute("type")?, &obj.text)))
        })
        .collect();
    machines.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!machines.is_empty(), "vcsim has no virtual machines");
    machines
}

/// Powers a VM off or on and waits for the task to finish.
pub async fn power(client: &Client, vm: &MoRef, on: bool) {
    let method = if on {
        "PowerOnVM_Task"
    } else {
        "PowerOffVM_Task"
    };
    client
        .invoke(method, vm, "")
        .await
        .unwrap_or_else(|e| panic!("{method} {}: {e}", vm.value));
}

/// Posts an `EventEx` of class `type_id` (a class no code knows) through the EventManager.
pub async fn post_event_ex(client: &Client, type_id: &str) {
    let content = client.service_content();
    client
        .invoke(
            "PostEvent",
            &content.event_manager,
            &format!(
                "<eventToPost xsi:type=\"EventEx\"><key>0</key><chainId>0</chainId>\
                 <createdTime>2000-01-01T00:00:00Z</createdTime><userName></userName>\
                 <fullFormattedMessage>custom</fullFormattedMessage><eventTypeId>{type_id}</eventTypeId>\
                 <severity>info</severity></eventToPost>"
            ),
        )
        .await
        .expect("PostEvent");
}

impl Vcsim {
    /// Runs `tests/govmomi-events` (govmomi's own client) against this simulator in `mode`
    /// (`produce` or `dump`) and returns its standard output.
    pub fn govmomi_events(&self, mode: &str) -> String {
        let program = std::env::var_os("SWITCHYARD_GOVMOMI_EVENTS")
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .unwrap_or_else(|| {
                panic!(
                    "govmomi-events not found (SWITCHYARD_GOVMOMI_EVENTS): run ./scripts/test, \
                     which builds it with Debian's Go and govmomi"
                )
            });
        let url = self
            .url
            .replacen("://", &format!("://{USER}:{PASSWORD}@"), 1);
        let output = Command::new(program)
            .args(["-url", &url, mode])
            .output()
            .expect("govmomi-events runs");
        assert!(
            output.status.success(),
            "govmomi-events {mode}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}
