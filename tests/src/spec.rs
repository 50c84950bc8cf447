//! The OpenAPI walker the conformance tests share: load a vendor document from `specs/`, find
//! the path template a concrete path answers to, validate an answer against a schema (the JSON
//! Schema subset the vendor documents use), and compare an answer with an example's shape.

use serde_json::Value;

/// An OpenAPI document.
pub struct Spec {
    doc: Value,
}

/// The JSON type name of `v`, as JSON Schema spells it.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Spec {
    /// Loads `specs/<file>` of the repository.
    pub fn load(file: &str) -> Self {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../specs")
            .join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} is readable: {e}", path.display()));
        let doc = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is JSON: {e}", path.display()));
        Self { doc }
    }

    /// The whole document.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// The operation `method` (lower case) of path template `tpl`.
    pub fn operation(&self, tpl: &str, method: &str) -> &Value {
        &self.doc["paths"][tpl][method]
    }

    /// `schema`, or what its `$ref` points to.
    pub fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self
                .doc
                .pointer(r.trim_start_matches('#'))
                .unwrap_or(schema),
            None => schema,
        }
    }

    /// The path template with operation `method` that the concrete `path` fits: the same number
    /// of segments, each equal or a `{parameter}`, and a trailing slash where the template has
    /// one.
    pub fn template(&self, method: &str, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.doc["paths"]
            .as_object()?
            .iter()
            .find_map(|(tpl, ops)| {
                let parts: Vec<&str> = tpl.trim_matches('/').split('/').collect();
                let fits = parts.len() == segments.len()
                    && tpl.ends_with('/') == path.ends_with('/')
                    && parts
                        .iter()
                        .zip(&segments)
                        .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()));
                (fits && ops.get(method).is_some()).then_some(tpl.as_str())
            })
    }

    /// Validates `value` against `schema` with the JSON Schema subset the vendor documents use:
    /// `$ref`, `allOf`, `type`, `nullable`, `properties`, `required`, `items`, `enum`. A null
    /// passes where the schema is a reference, an enum or `nullable` (Graph's references are
    /// nullable). Each deviation is pushed to `errors`, prefixed with `at`.
    pub fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for part in parts {
                self.validate(part, value, at, errors);
            }
        }
        if value.is_null() {
            let plain_type = schema.get("type").is_some() && schema.get("$ref").is_none();
            if plain_type
                && schema.get("nullable") != Some(&Value::Bool(true))
                && schema.get("enum").is_none()
            {
                errors.push(format!("{at}: null where the spec allows none"));
            }
            return;
        }
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            let ok = match t {
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                other => json_type(value) == other,
            };
            if !ok {
                errors.push(format!("{at}: expected {t}, got {value}"));
                return;
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {options:?}"));
        }
        if let Some(obj) = value.as_object() {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (key, sub) in props {
                    if let Some(v) = obj.get(key) {
                        self.validate(sub, v, &format!("{at}.{key}"), errors);
                    }
                }
            }
            for key in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(k) = key.as_str()
                    && !obj.contains_key(k)
                {
                    errors.push(format!("{at}: required `{k}` is missing"));
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
            for (i, v) in arr.iter().enumerate() {
                self.validate(items, v, &format!("{at}[{i}]"), errors);
            }
        }
    }
}

/// Checks that `actual` has every field of `example`, recursively, with the same JSON type
/// (null allowed on either side); for an array, every element against the example's first.
pub fn same_shape(example: &Value, actual: &Value, at: &str, errors: &mut Vec<String>) {
    if example.is_null() || actual.is_null() {
        return;
    }
    if json_type(example) != json_type(actual) {
        errors.push(format!(
            "{at}: example is {}, answer is {} ({actual})",
            json_type(example),
            json_type(actual)
        ));
        return;
    }
    match (example, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                match a.get(key) {
                    Some(av) => same_shape(ev, av, &format!("{at}.{key}"), errors),
                    None => errors.push(format!("{at}: field `{key}` of the example is missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let Some(first) = e.first() {
                for (i, av) in a.iter().enumerate() {
                    same_shape(first, av, &format!("{at}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}
