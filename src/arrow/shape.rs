//! Detection from an Arrow schema: the same rules as for a JSON row, read off column types.

use arrow_schema::{DataType, Field, Schema};

use crate::error::SpecError;
use crate::fields::{FieldNames, FieldPath, ItemFields, Resolved, RowShape};
use crate::relabel::{Style, TextKind};

/// A schema seen through the [`RowShape`] detection needs.
pub(crate) struct SchemaShape<'a>(pub(crate) &'a Schema);

impl<'a> SchemaShape<'a> {
    /// The field at `path` (a dotted path through structs), if there is one.
    pub(crate) fn field(&self, path: &FieldPath) -> Option<&'a Field> {
        let parts = path.parts();
        let mut field = self.0.field_with_name(&parts[0]).ok()?;
        for part in &parts[1..] {
            match field.data_type() {
                DataType::Struct(children) => {
                    field = children.iter().find(|f| f.name() == part)?.as_ref();
                }
                _ => return None,
            }
        }
        Some(field)
    }
}

fn kind(data_type: &DataType) -> Result<TextKind, String> {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(TextKind::Text),
        // pandas categoricals: strings, dictionary-encoded.
        DataType::Dictionary(_, value) if kind(value) == Ok(TextKind::Text) => Ok(TextKind::Text),
        DataType::List(item) | DataType::LargeList(item)
            if matches!(item.data_type(), DataType::Struct(_)) =>
        {
            Ok(TextKind::Messages)
        }
        other => Err(format!("a column of type {other}")),
    }
}

impl RowShape for SchemaShape<'_> {
    fn kind(&self, path: &FieldPath) -> Option<Result<TextKind, String>> {
        self.field(path).map(|f| kind(f.data_type()))
    }

    fn has(&self, path: &FieldPath) -> bool {
        self.field(path).is_some()
    }

    fn object_fields(&self) -> Vec<String> {
        self.0
            .fields()
            .iter()
            .filter(|f| matches!(f.data_type(), DataType::Struct(_)))
            .map(|f| f.name().clone())
            .collect()
    }

    fn numbers(&self) -> Vec<String> {
        numbers_of(self.0.fields())
    }

    fn item_fields(&self, list: &FieldPath) -> Option<ItemFields> {
        let (DataType::List(item) | DataType::LargeList(item)) = self.field(list)?.data_type()
        else {
            return None;
        };
        let DataType::Struct(children) = item.data_type() else {
            return None;
        };
        Some(ItemFields {
            texts: children
                .iter()
                .filter(|c| kind(c.data_type()) == Ok(TextKind::Text))
                .map(|c| c.name().clone())
                .collect(),
            numbers: numbers_of(children),
        })
    }

    fn fields(&self) -> Vec<String> {
        let mut fields = Vec::new();
        for field in self.0.fields() {
            fields.push(field.name().clone());
            if let DataType::Struct(children) = field.data_type() {
                fields.extend(
                    children
                        .iter()
                        .map(|c| format!("{}.{}", field.name(), c.name())),
                );
            }
        }
        fields
    }
}

/// The fields of a numeric type, in order.
fn numbers_of(fields: &arrow_schema::Fields) -> Vec<String> {
    fields
        .iter()
        .filter(|f| f.data_type().is_numeric())
        .map(|f| f.name().clone())
        .collect()
}

/// Detects the layout and fields from a schema. A score column of another type than a number
/// is judged row by row, as a JSON score is (a string score is bad data).
pub fn detect(
    schema: &Schema,
    names: &FieldNames,
    style: Option<Style>,
) -> Result<Resolved, SpecError> {
    Resolved::detect(&SchemaShape(schema), names, style)
}
