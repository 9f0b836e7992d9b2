//! Deterministic content: token counts, reply chunking, tool arguments and embedding vectors.

use serde_json::{Map, Value};

/// Token count of a text under the documented rule: whitespace-separated words.
pub(crate) fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Accumulates prompt tokens message by message (`3 + words` each).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PromptCount(u64);

impl PromptCount {
    pub fn message<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) {
        self.0 += 3 + texts.into_iter().map(words).sum::<u64>();
    }

    pub fn tokens(self) -> u64 {
        self.0
    }
}

/// Splits `text` into the content chunks of a stream: `n` near-equal character runs when `n` is
/// given (empty runs when the text is shorter), otherwise one chunk per word with its leading
/// whitespace, like real token streams.
pub(crate) fn split(text: &str, n: Option<usize>) -> Vec<&str> {
    match n {
        Some(n) => split_even(text, n),
        None => split_words(text),
    }
}

fn split_even(text: &str, n: usize) -> Vec<&str> {
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let chars = boundaries.len() - 1;
    (0..n)
        .map(|k| {
            let start = boundaries[k * chars / n];
            let end = boundaries[(k + 1) * chars / n];
            &text[start..end]
        })
        .collect()
}

fn split_words(text: &str) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                chunks.push(&text[start..i]);
                start = i;
                in_word = false;
            }
        } else {
            in_word = true;
        }
    }
    if start < text.len() || chunks.is_empty() {
        chunks.push(&text[start..]);
    }
    chunks
}

/// Arguments for a call to a tool declared with JSON schema `schema`: every declared property
/// gets a fixed value of its type, so the result validates against simple schemas.
pub(crate) fn tool_arguments(schema: Option<&Value>) -> Value {
    let Some(props) = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    else {
        return Value::Object(Map::new());
    };
    Value::Object(
        props
            .iter()
            .map(|(name, prop)| (name.clone(), sample(prop, 0)))
            .collect(),
    )
}

fn sample(schema: &Value, depth: usize) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).next().unwrap_or(""),
        _ => "",
    };
    match kind {
        "integer" => Value::from(1),
        "number" => Value::from(1.5),
        "boolean" => Value::Bool(true),
        "array" => Value::Array(Vec::new()),
        "object" if depth < 4 => Value::Object(
            schema
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| {
                    p.iter()
                        .map(|(k, v)| (k.clone(), sample(v, depth + 1)))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "object" => Value::Object(Map::new()),
        "null" => Value::Null,
        _ => Value::String("mock".to_owned()),
    }
}

/// A unit-length vector of `dims` components derived only from `input`.
pub(crate) fn embedding(input: &str, dims: usize) -> Vec<f32> {
    // FNV-1a seeds a splitmix64 sequence: cheap, stable across platforms and releases.
    let mut state = input.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut values: Vec<f32> = (0..dims)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // Top 24 bits give an exact f32 in [0, 1), mapped to [-1, 1).
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        values.iter_mut().for_each(|v| *v /= norm);
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_into_exact_chunk_counts() {
        assert_eq!(split("abcdefgh", Some(3)).concat(), "abcdefgh");
        assert_eq!(split("abcdefgh", Some(3)).len(), 3);
        assert_eq!(split("ab", Some(4)).len(), 4);
        assert_eq!(split("héllo wörld", Some(5)).concat(), "héllo wörld");
    }

    #[test]
    fn splits_on_words_by_default() {
        assert_eq!(
            split("Hello big world", None),
            vec!["Hello", " big", " world"]
        );
        assert_eq!(split("", None), vec![""]);
        assert_eq!(split(" lead", None), vec![" lead"]);
    }

    #[test]
    fn counts_prompt_tokens_per_message() {
        let mut count = PromptCount::default();
        count.message(["You are terse."]);
        count.message(["Hello there", "friend"]);
        assert_eq!(count.tokens(), 3 + 3 + 3 + 3);
    }

    #[test]
    fn tool_arguments_follow_the_schema() {
        let schema = json!({"type":"object","properties":{
            "city":{"type":"string"},"days":{"type":"integer"},
            "unit":{"type":"string","enum":["c","f"]}}});
        assert_eq!(
            tool_arguments(Some(&schema)),
            json!({"city":"mock","days":1,"unit":"c"})
        );
    }

    #[test]
    fn embeddings_are_stable_and_normalised() {
        let a = embedding("hello", 8);
        assert_eq!(a, embedding("hello", 8));
        assert_ne!(a, embedding("hello!", 8));
        let norm: f32 = a.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}
