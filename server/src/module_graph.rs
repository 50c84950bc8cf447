//! Keeps the modules of this crate a graph without cycles: reads every file of `server/src`,
//! collects the top-level modules it names (`crate::x` paths and `use crate::{x, …}` groups,
//! ignoring a trailing `#[cfg(test)]` part), and fails on any cycle, naming it. A cycle means
//! two layers depend on each other; give the lower one what it needs instead (see
//! ARCHITECTURE.md, "Layers").

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// This file names modules in its tests; it is not part of the graph.
const SELF: &str = "module_graph";

type Graph = BTreeMap<String, BTreeSet<String>>;

fn is_ident(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
}

/// The top-level modules `source` names through `crate::`.
fn named_modules(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::{c, d}, e}`: the first name of each item at depth 0.
            let mut depth = 0;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                    c if depth == 0 => item.push(c),
                    _ => {}
                }
            }
            items.push(item);
            for item in items {
                let name: String = item.trim().chars().take_while(|c| is_ident(*c)).collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// The part of a file that is not its unit tests.
fn without_tests(source: &str) -> &str {
    source
        .find("#[cfg(test)]")
        .map_or(source, |at| &source[..at])
}

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The graph of top-level modules under `src`: module → the modules it names.
fn graph_of(src: &Path) -> Graph {
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let Ok(relative) = file.strip_prefix(src) else {
            continue;
        };
        let Some(first) = relative.components().next() else {
            continue;
        };
        let top = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == SELF || top == "main" {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap_or_default();
        let uses = graph.entry(top.clone()).or_default();
        for name in named_modules(without_tests(&source)) {
            if name != top && name != "self" && name != "super" {
                uses.insert(name);
            }
        }
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !tarjan.index.contains_key(v.as_str()) {
            tarjan.visit(v);
        }
    }
    tarjan.found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_modules_of_the_server_form_a_graph_without_cycles() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let graph = graph_of(&src);
        assert!(
            graph.len() > 20,
            "too few modules found in {}",
            src.display()
        );
        let found = cycles(&graph);
        let described: Vec<String> = found
            .iter()
            .map(|c| {
                let edges: Vec<String> = c
                    .iter()
                    .flat_map(|a| {
                        graph[a]
                            .iter()
                            .filter(|b| c.contains(b))
                            .map(move |b| format!("{a} -> {b}"))
                    })
                    .collect();
                format!("{{{}}}: {}", c.join(", "), edges.join(", "))
            })
            .collect();
        assert!(found.is_empty(), "module cycles: {}", described.join("; "));
    }

    #[test]
    fn paths_and_use_groups_name_their_top_level_modules() {
        let names = named_modules(
            "use crate::{a::{b, c}, d, e::f};\nfn x() { crate::g::h(); }\nuse crate::i;",
        );
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(names, ["a", "d", "e", "g", "i"]);
    }

    #[test]
    fn a_cycle_is_found_and_a_chain_is_not() {
        let mut graph = Graph::new();
        graph.entry("a".into()).or_default().insert("b".into());
        graph.entry("b".into()).or_default().insert("c".into());
        graph.entry("c".into()).or_default();
        assert!(cycles(&graph).is_empty());
        graph.entry("c".into()).or_default().insert("a".into());
        assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
    }

    #[test]
    fn unit_tests_at_the_end_of_a_file_are_not_part_of_the_graph() {
        assert_eq!(
            without_tests("use crate::a;\n#[cfg(test)]\nmod tests { use crate::b; }"),
            "use crate::a;\n"
        );
    }
}
