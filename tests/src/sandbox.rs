//! The records the Outlook sandbox mailbox (`web/js/sandbox.js`) talks about, created in a
//! raynet-sim: the firm Vítkovice Machinery a.s., its contact Jan Novák and an open project.
//! Shared by the demo and the task pane's browser test.

use reqwest::Method;
use serde_json::{Value, json};

use crate::raynet_sim::RaynetSim;

/// Ids of the sandbox's records in the simulator.
#[derive(Debug, Clone, Copy)]
pub struct SandboxRecords {
    /// Vítkovice Machinery a.s.
    pub company: i64,
    /// Jan Novák (jan.novak@vitkovice.cz).
    pub person: i64,
    /// Servis linky 2027 (open).
    pub project: i64,
}

fn create(crm: &RaynetSim, entity: &str, body: Value) -> anyhow::Result<i64> {
    let (status, answer) = crm.sim.user_change(&Method::PUT, entity, None, &body);
    anyhow::ensure!(
        status.is_success(),
        "the simulator refused the sample {entity}: {answer}"
    );
    answer["data"]["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no id in the simulator's answer: {answer}"))
}

/// Creates the sandbox's records (as a CRM user would, so webhooks fire).
pub fn seed(crm: &RaynetSim) -> anyhow::Result<SandboxRecords> {
    let company = create(
        crm,
        "company",
        json!({"name": "Vítkovice Machinery a.s.", "regNumber": "45193070", "rating": "A",
               "state": "B_ACTUAL", "role": "A_SUBSCRIBER",
               "addresses": [{"contactInfo": {"email": "info@vitkovice.cz"}}]}),
    )?;
    let person = create(
        crm,
        "person",
        json!({"firstName": "Jan", "lastName": "Novák", "relationship": {"company": company},
               "contactInfo": {"email": "jan.novak@vitkovice.cz"}}),
    )?;
    let project = create(
        crm,
        "project",
        json!({"name": "Servis linky 2027", "company": company}),
    )?;
    Ok(SandboxRecords {
        company,
        person,
        project,
    })
}
