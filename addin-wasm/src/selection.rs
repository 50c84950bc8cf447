//! What the user has linked the open item to, the preselection from suggestions (only where it
//! is unambiguous), and the rules that keep contacts and projects consistent with the firm.

use crate::model::{Item, Kind, Links, Suggestions};

/// The chosen firm, contacts, project and business case.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// The firm.
    pub company: Option<Item>,
    /// The contacts.
    pub persons: Vec<Item>,
    /// The project.
    pub project: Option<Item>,
    /// The business case.
    pub business_case: Option<Item>,
}

fn single<'a>(items: impl Iterator<Item = &'a Item>) -> Option<&'a Item> {
    let mut items = items;
    let first = items.next()?;
    items.next().is_none().then_some(first)
}

fn belongs(item: &Item, company: Option<i64>) -> bool {
    match (company, item.company_id) {
        (Some(c), Some(ic)) => c == ic,
        _ => true,
    }
}

impl Selection {
    /// The preselection for `s`: the firm when only one fits (the only suggested firm, or the
    /// one firm all matched contacts share), the matched contacts of that firm, and its project
    /// and business case when it has exactly one open.
    pub fn preselect(s: &Suggestions) -> Self {
        let company = single(s.companies.iter()).cloned().or_else(|| {
            let first = s.persons.first()?.company_id?;
            s.persons
                .iter()
                .all(|p| p.company_id == Some(first))
                .then(|| s.companies.iter().find(|c| c.id == first).cloned())
                .flatten()
        });
        let company_id = company.as_ref().map(|c| c.id);
        let persons = s
            .persons
            .iter()
            .filter(|p| belongs(p, company_id))
            .cloned()
            .collect();
        let open_of = |items: &[Item]| {
            company_id.and_then(|c| {
                single(items.iter().filter(|i| i.open && i.company_id == Some(c))).cloned()
            })
        };
        Self {
            project: open_of(&s.projects),
            business_case: open_of(&s.business_cases),
            company,
            persons,
        }
    }

    /// Takes `item` into the selection. A new firm drops contacts, project and business case of
    /// other firms; a contact is added once.
    pub fn choose(&mut self, item: Item) {
        match item.kind {
            Kind::Company => {
                let id = Some(item.id);
                self.persons.retain(|p| belongs(p, id));
                if self.project.as_ref().is_some_and(|p| !belongs(p, id)) {
                    self.project = None;
                }
                if self.business_case.as_ref().is_some_and(|b| !belongs(b, id)) {
                    self.business_case = None;
                }
                self.company = Some(item);
            }
            Kind::Person => {
                if !self.persons.iter().any(|p| p.id == item.id) {
                    self.persons.push(item);
                }
            }
            Kind::Project => self.project = Some(item),
            Kind::BusinessCase => self.business_case = Some(item),
        }
    }

    /// Removes the item of `kind` with `id`.
    pub fn remove(&mut self, kind: Kind, id: i64) {
        let keep = |i: &Option<Item>| i.as_ref().filter(|i| i.id != id).cloned();
        match kind {
            Kind::Company => self.company = keep(&self.company),
            Kind::Person => self.persons.retain(|p| p.id != id),
            Kind::Project => self.project = keep(&self.project),
            Kind::BusinessCase => self.business_case = keep(&self.business_case),
        }
    }

    /// The firm lookups of `kind` are narrowed to.
    pub fn firm_filter(&self, kind: Kind) -> Option<i64> {
        if kind.filtered_by_firm() {
            self.company.as_ref().map(|c| c.id)
        } else {
            None
        }
    }

    /// The selected items of `kind`.
    pub fn of_kind(&self, kind: Kind) -> Vec<&Item> {
        match kind {
            Kind::Company => self.company.iter().collect(),
            Kind::Person => self.persons.iter().collect(),
            Kind::Project => self.project.iter().collect(),
            Kind::BusinessCase => self.business_case.iter().collect(),
        }
    }

    /// The links to send.
    pub fn links(&self) -> Links {
        Links {
            company_id: self.company.as_ref().map(|c| c.id),
            person_ids: self.persons.iter().map(|p| p.id).collect(),
            project_id: self.project.as_ref().map(|p| p.id),
            business_case_id: self.business_case.as_ref().map(|b| b.id),
        }
    }

    /// Whether nothing is chosen.
    pub fn is_empty(&self) -> bool {
        self.links() == Links::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it(kind: Kind, id: i64, company_id: Option<i64>, open: bool) -> Item {
        Item {
            kind,
            id,
            name: format!("{kind} {id}"),
            subtitle: String::new(),
            email: None,
            company_id,
            open,
            security_level: None,
        }
    }

    #[test]
    fn one_firm_with_one_open_project_is_preselected_completely() {
        let s = Suggestions {
            persons: vec![it(Kind::Person, 10, Some(1), false)],
            companies: vec![it(Kind::Company, 1, None, false)],
            projects: vec![
                it(Kind::Project, 5, Some(1), true),
                it(Kind::Project, 6, Some(1), false),
            ],
            business_cases: vec![
                it(Kind::BusinessCase, 7, Some(1), true),
                it(Kind::BusinessCase, 8, Some(1), true),
            ],
            unmatched: vec![],
        };
        let sel = Selection::preselect(&s);
        assert_eq!(
            sel.links(),
            Links {
                company_id: Some(1),
                person_ids: vec![10],
                project_id: Some(5),
                business_case_id: None
            }
        );
    }

    #[test]
    fn two_firms_are_ambiguous_unless_every_matched_contact_shares_one() {
        let companies = vec![
            it(Kind::Company, 1, None, false),
            it(Kind::Company, 2, None, false),
        ];
        let mixed = Suggestions {
            persons: vec![
                it(Kind::Person, 10, Some(1), false),
                it(Kind::Person, 11, Some(2), false),
            ],
            companies: companies.clone(),
            ..Default::default()
        };
        let sel = Selection::preselect(&mixed);
        assert_eq!(sel.company, None);
        assert_eq!(sel.links().person_ids, vec![10, 11]);

        let shared = Suggestions {
            persons: vec![it(Kind::Person, 10, Some(2), false)],
            companies,
            ..Default::default()
        };
        assert_eq!(Selection::preselect(&shared).links().company_id, Some(2));
    }

    #[test]
    fn choosing_another_firm_drops_links_to_the_previous_firm_only() {
        let mut sel = Selection::default();
        sel.choose(it(Kind::Company, 1, None, false));
        sel.choose(it(Kind::Person, 10, Some(1), false));
        sel.choose(it(Kind::Person, 10, Some(1), false));
        sel.choose(it(Kind::Person, 12, None, false));
        sel.choose(it(Kind::Project, 5, Some(1), true));
        assert_eq!(sel.persons.len(), 2);
        sel.choose(it(Kind::Company, 2, None, false));
        assert_eq!(
            sel.links(),
            Links {
                company_id: Some(2),
                person_ids: vec![12],
                project_id: None,
                business_case_id: None
            }
        );
        assert_eq!(sel.firm_filter(Kind::Person), Some(2));
        assert_eq!(sel.firm_filter(Kind::Company), None);
        sel.remove(Kind::Company, 2);
        sel.remove(Kind::Person, 12);
        assert!(sel.is_empty());
    }
}
