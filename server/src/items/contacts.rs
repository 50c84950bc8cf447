//! Adding a contact person to the CRM from the add-in ("add as contact"): created with the
//! employee's own CRM key, then put into the item cache at once, so lookups and attendee matching
//! find the person before the CRM's webhook arrives.

use super::{Item, ItemKind, ItemsCtx, index::ItemView};
use crate::{
    crm::NewPerson,
    jobs::WorkError,
    store::{Employee, now_ms},
};

/// Creates `person` in the CRM as `employee` and caches it; the person as lookups show it.
pub async fn add_person(
    ctx: &ItemsCtx,
    employee: &Employee,
    person: NewPerson,
) -> Result<ItemView, WorkError> {
    let crm = ctx
        .crm
        .for_employee(ctx.store.as_ref(), &ctx.master_key, employee)
        .await?;
    let id = crm.create_person(&person).await?;
    let company_name = person
        .company_id
        .and_then(|c| ctx.items.index().get(ItemKind::Company, c))
        .map(|c| c.name)
        .unwrap_or_default();
    let name = match &person.first_name {
        Some(first) => format!("{first} {}", person.last_name),
        None => person.last_name.clone(),
    };
    let item = Item {
        kind: ItemKind::Person,
        id,
        name,
        subtitle: company_name,
        emails: person.email.into_iter().collect(),
        company_id: person.company_id,
        open: true,
        updated_at: Some(now_ms()),
        // The CRM's answer does not say; the record's webhook brings it.
        security_level: None,
    };
    ctx.items.upsert(ctx.store.as_ref(), vec![item]).await?;
    ctx.items
        .index()
        .get(ItemKind::Person, id)
        .ok_or_else(|| WorkError::Broken("the new person is not in the cache".into()))
}
