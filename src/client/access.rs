//! `switchyard organizations|policies|service-accounts|tokens|audit`: who may do what.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

use super::{encode, read_document, Connection};

/// Organizations (the super-user's).
#[derive(Args, Debug)]
pub struct Organizations {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: OrganizationsAction,
}

#[derive(Subcommand, Debug)]
enum OrganizationsAction {
    /// Every organization.
    List,
    /// Create an organization.
    Create { name: String },
    /// Delete an organization that owns no namespace.
    Delete { name: String },
}

impl Organizations {
    pub async fn run(self) -> anyhow::Result<()> {
        let gateway = self.connection.open()?;
        let columns = &[("Name", "/name"), ("Created", "/createdAt")];
        match self.action {
            OrganizationsAction::List => {
                gateway.print(&gateway.get("/system/organizations").await?, columns)
            }
            OrganizationsAction::Create { name } => {
                let body = json!({"name": name});
                let created = gateway
                    .call(Method::POST, "/system/organizations", Some(&body))
                    .await?;
                gateway.print(&created, columns);
            }
            OrganizationsAction::Delete { name } => {
                let path = format!("/system/organizations/{}", encode(&name));
                gateway.call(Method::DELETE, &path, None).await?;
                gateway.done(&format!("deleted organization {name}"));
            }
        }
        Ok(())
    }
}

/// Policies: subjects bound to a role in an organization or a namespace of it.
#[derive(Args, Debug)]
pub struct Policies {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: PoliciesAction,
}

#[derive(Subcommand, Debug)]
enum PoliciesAction {
    /// The policies of an organization.
    List {
        #[arg(long, default_value = "default")]
        organization: String,
    },
    /// Create a policy from flags.
    Create {
        name: String,
        #[arg(long, default_value = "default")]
        organization: String,
        /// Only this namespace of the organization.
        #[arg(long)]
        namespace: Option<String>,
        /// `admin`, `developer`, `invoker` or `viewer`.
        #[arg(long)]
        role: String,
        /// `user:<name>`, `group:<name>`, `serviceaccount:<name>`; repeat for more.
        #[arg(long = "subject", required = true)]
        subjects: Vec<String>,
    },
    /// Create a policy from a JSON file (`-` for stdin).
    Apply {
        #[arg(short, long)]
        file: String,
    },
    /// Delete a policy.
    Delete {
        name: String,
        #[arg(long, default_value = "default")]
        organization: String,
    },
}

const POLICY_COLUMNS: &[(&str, &str)] = &[
    ("Name", "/name"),
    ("Organization", "/organization"),
    ("Namespace", "/namespace"),
    ("Role", "/role"),
    ("Subjects", "/subjects"),
];

impl Policies {
    pub async fn run(self) -> anyhow::Result<()> {
        let gateway = self.connection.open()?;
        match self.action {
            PoliciesAction::List { organization } => {
                let path = format!("/system/policies?organization={}", encode(&organization));
                gateway.print(&gateway.get(&path).await?, POLICY_COLUMNS);
            }
            PoliciesAction::Create {
                name,
                organization,
                namespace,
                role,
                subjects,
            } => {
                let mut body = json!({"name": name, "organization": organization, "role": role, "subjects": subjects});
                if let Some(namespace) = namespace {
                    body["namespace"] = json!(namespace);
                }
                let created = gateway
                    .call(Method::POST, "/system/policies", Some(&body))
                    .await?;
                gateway.print(&created, POLICY_COLUMNS);
            }
            PoliciesAction::Apply { file } => {
                let body = read_document(&file)?;
                let created = gateway
                    .call(Method::POST, "/system/policies", Some(&body))
                    .await?;
                gateway.print(&created, POLICY_COLUMNS);
            }
            PoliciesAction::Delete { name, organization } => {
                let path = scoped("policies", &organization, &name);
                gateway.call(Method::DELETE, &path, None).await?;
                gateway.done(&format!("deleted policy {organization}/{name}"));
            }
        }
        Ok(())
    }
}

/// Service accounts and their API tokens.
#[derive(Args, Debug)]
pub struct ServiceAccounts {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: ServiceAccountsAction,
}

#[derive(Subcommand, Debug)]
enum ServiceAccountsAction {
    /// The service accounts of an organization.
    List {
        #[arg(long, default_value = "default")]
        organization: String,
    },
    /// Create a service account.
    Create {
        name: String,
        #[arg(long, default_value = "default")]
        organization: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a service account (its tokens are revoked).
    Delete {
        name: String,
        #[arg(long, default_value = "default")]
        organization: String,
    },
    /// Its tokens (never the tokens themselves).
    Tokens {
        name: String,
        #[arg(long, default_value = "default")]
        organization: String,
    },
    /// Issue a token: printed this once.
    Issue {
        name: String,
        #[arg(long, default_value = "default")]
        organization: String,
        /// How long it is valid (`24h`, `30d` is not Go: use `720h`); default 30 days.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke { id: String },
}

const TOKEN_COLUMNS: &[(&str, &str)] = &[
    ("Id", "/id"),
    ("Service account", "/serviceAccount"),
    ("Organization", "/organization"),
    ("Expires", "/expiresAt"),
    ("Revoked", "/revokedAt"),
];

impl ServiceAccounts {
    pub async fn run(self) -> anyhow::Result<()> {
        let gateway = self.connection.open()?;
        let columns = &[
            ("Name", "/name"),
            ("Organization", "/organization"),
            ("Description", "/description"),
            ("Created", "/createdAt"),
        ];
        match self.action {
            ServiceAccountsAction::List { organization } => {
                let path = format!(
                    "/system/service-accounts?organization={}",
                    encode(&organization)
                );
                gateway.print(&gateway.get(&path).await?, columns);
            }
            ServiceAccountsAction::Create {
                name,
                organization,
                description,
            } => {
                let body =
                    json!({"name": name, "organization": organization, "description": description});
                let created = gateway
                    .call(Method::POST, "/system/service-accounts", Some(&body))
                    .await?;
                gateway.print(&created, columns);
            }
            ServiceAccountsAction::Delete { name, organization } => {
                let path = scoped("service-accounts", &organization, &name);
                gateway.call(Method::DELETE, &path, None).await?;
                gateway.done(&format!("deleted service account {organization}/{name}"));
            }
            ServiceAccountsAction::Tokens { name, organization } => {
                let path = scoped("service-accounts", &organization, &name) + "/tokens";
                gateway.print(&gateway.get(&path).await?, TOKEN_COLUMNS);
            }
            ServiceAccountsAction::Issue {
                name,
                organization,
                expires_in,
            } => {
                let path = scoped("service-accounts", &organization, &name) + "/tokens";
                let body = expires_in.map(|e| json!({"expiresIn": e}));
                let issued = gateway.call(Method::POST, &path, body.as_ref()).await?;
                if gateway.json {
                    gateway.print(&issued, &[]);
                } else {
                    gateway.print(&issued, TOKEN_COLUMNS);
                    println!(
                        "token (shown once): {}",
                        issued["token"].as_str().unwrap_or_default()
                    );
                }
            }
            ServiceAccountsAction::Revoke { id } => {
                gateway
                    .call(
                        Method::DELETE,
                        &format!("/system/tokens/{}", encode(&id)),
                        None,
                    )
                    .await?;
                gateway.done(&format!("revoked token {id}"));
            }
        }
        Ok(())
    }
}

/// The audit log.
#[derive(Args, Debug)]
pub struct Audit {
    #[command(flatten)]
    connection: Connection,
    /// How many of the latest changes.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

impl Audit {
    pub async fn run(self) -> anyhow::Result<()> {
        let gateway = self.connection.open()?;
        let entries = gateway
            .get(&format!("/system/audit?limit={}", self.limit))
            .await?;
        gateway.print(
            &entries,
            &[
                ("Time", "/time"),
                ("Who", "/who"),
                ("Method", "/method"),
                ("Path", "/path"),
                ("Status", "/status"),
                ("Outcome", "/outcome"),
            ],
        );
        Ok(())
    }
}

/// `/system/<collection>/<organization>/<name>`, each part encoded.
fn scoped(collection: &str, organization: &str, name: &str) -> String {
    format!(
        "/system/{collection}/{}/{}",
        encode(organization),
        encode(name)
    )
}
