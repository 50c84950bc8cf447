//! The sample data generator: deterministic by seed, realistic, and fast.

use std::time::Instant;

use tests::raynet_sim::{
    GenOptions,
    data::{fold, generate, ico_is_valid},
};

fn options(seed: u64, companies: usize) -> GenOptions {
    GenOptions {
        companies,
        persons_per_company: 3,
        business_cases_per_company: 1,
        projects_per_company: 1,
        seed,
    }
}

#[test]
fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
    let a = generate(&options(42, 500));
    let b = generate(&options(42, 500));
    let c = generate(&options(43, 500));
    assert_eq!(a, b);
    assert_ne!(a.companies, c.companies);
}

#[test]
fn names_carry_diacritics_and_icos_have_a_valid_checksum() {
    let g = generate(&options(1, 2000));
    let with_marks = g
        .companies
        .iter()
        .filter(|c| fold(&c.name) != *c.name)
        .count();
    assert!(
        with_marks > 1000,
        "only {with_marks} of 2000 names have diacritics"
    );
    let icos: Vec<String> = g.companies.iter().filter_map(|c| c.ico()).collect();
    assert!(icos.len() > 1500);
    assert!(icos.iter().all(|i| ico_is_valid(i)), "an invalid IČO");
    let mut unique = icos.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), icos.len(), "IČO repeats");
    assert!(
        g.companies
            .iter()
            .any(|c| c.name.ends_with("GmbH") || c.name.ends_with("Ltd."))
    );
    assert!(
        g.persons
            .iter()
            .any(|p| p.last.contains('ř') || p.last.contains('á'))
    );
}

#[test]
fn the_ico_checksum_rejects_a_changed_digit() {
    assert!(ico_is_valid("25596641"));
    assert!(!ico_is_valid("25596642"));
    assert!(!ico_is_valid("2559664"));
    assert!(!ico_is_valid("2559664a"));
}

#[test]
fn persons_have_emails_on_their_company_domain_and_domains_are_unique() {
    let g = generate(&options(5, 3000));
    for p in &g.persons {
        let company = &g.companies[(p.company_id.unwrap() - 1) as usize];
        let email = p.email.as_deref().unwrap();
        assert!(email.ends_with(&format!("@{}", company.domain)), "{email}");
        assert!(email.is_ascii());
    }
    let mut domains: Vec<&str> = g.companies.iter().map(|c| &*c.domain).collect();
    domains.sort_unstable();
    domains.dedup();
    assert_eq!(domains.len(), 3000);
    assert_eq!(g.business_cases.len(), 3000);
    assert!(g.business_cases.iter().any(|d| d.status != "B_ACTIVE"));
}

#[test]
fn a_hundred_thousand_companies_generate_in_well_under_a_second_per_hundred_thousand() {
    let started = Instant::now();
    let g = generate(&GenOptions {
        companies: 100_000,
        persons_per_company: 0,
        business_cases_per_company: 0,
        projects_per_company: 0,
        seed: 9,
    });
    let took = started.elapsed();
    assert_eq!(g.companies.len(), 100_000);
    // 1,000,000 companies must take well under a minute: allow 5 s per 100,000 in debug builds.
    assert!(took.as_secs() < 5, "took {took:?}");
}
