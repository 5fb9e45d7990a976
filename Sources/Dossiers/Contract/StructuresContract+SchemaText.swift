extension StructuresContract {
    /// `contracts/structures.schema.json`, byte for byte: the schema the import validates against.
    ///
    /// Embedded rather than read at run time so the binary cannot drift from the contract it was
    /// built for; `SchemaTextTests` compares it with the file in `config/contracts/`.
    public static let schemaText: String = ##"""
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "urn:eticket:contracts:structures:1",
  "title": "Structures configuration",
  "description": "What an administrator declares about the structures (municipalities, associations) whose dossiers the back office processes. Applied idempotently: applying the same file twice changes nothing; a structure, service, period or document kind absent from the file is left as it is.",
  "type": "object",
  "required": ["structures"],
  "additionalProperties": false,
  "properties": {
    "structures": {
      "type": "array",
      "minItems": 1,
      "items": { "$ref": "#/$defs/structure" }
    }
  },
  "$defs": {
    "code": { "type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$" },
    "structure": {
      "type": "object",
      "required": ["code", "name", "postal_codes", "registration_code", "sender", "review", "rights_opening", "services", "periods"],
      "additionalProperties": false,
      "properties": {
        "code": { "$ref": "#/$defs/code" },
        "name": { "type": "string", "minLength": 1, "maxLength": 200 },
        "postal_codes": { "type": "array", "minItems": 1, "items": { "type": "string", "pattern": "^[0-9]{5}$" } },
        "registration_code": { "type": "string", "minLength": 4, "maxLength": 64 },
        "timezone": { "type": "string", "default": "Europe/Paris" },
        "locale": { "enum": ["fr", "en"], "default": "fr" },
        "sender": {
          "type": "object",
          "required": ["name", "email"],
          "additionalProperties": false,
          "properties": {
            "name": { "type": "string", "minLength": 1, "maxLength": 200 },
            "email": { "type": "string", "format": "email" },
            "reply_to": { "type": "string", "format": "email" }
          }
        },
        "portal_url": { "type": "string", "format": "uri" },
        "branding": {
          "description": "How the structure's emails present it; every field optional. Without it the emails use a neutral design.",
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "display_name": { "description": "The name in the email's header, when it differs from name.", "type": "string", "minLength": 1, "maxLength": 120 },
            "logo_url": { "description": "An https:// image for the header, without spaces, quotes, <, > or backslashes. Mail clients may not show it; the display name stands in.", "type": "string", "minLength": 9, "maxLength": 2000 },
            "accent_color": { "description": "#RRGGBB (six hexadecimal digits): the header band and the button. The text on it is white or black, whichever reads better.", "type": "string" },
            "contact": {
              "description": "How families reach the structure, shown at the foot of every email.",
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "phone": { "type": "string", "minLength": 1, "maxLength": 40 },
                "address": { "type": "string", "minLength": 1, "maxLength": 300 },
                "opening_hours": { "type": "string", "minLength": 1, "maxLength": 300 }
              }
            }
          }
        },
        "review": {
          "description": "automatic: a complete dossier is validated by the worker. manual: a complete dossier waits for an administrator's decision.",
          "enum": ["automatic", "manual"]
        },
        "rights_opening": {
          "description": "on_validation: reservation rights open as soon as the dossier is validated. scheduled: they open at the period's planning_opens_at (or at validation, if that time has passed). manual: an administrator opens them.",
          "enum": ["on_validation", "scheduled", "manual"]
        },
        "documents": {
          "description": "Supporting documents (justificatifs) the structure asks for. required: false means suggested only.",
          "type": "array",
          "items": {
            "type": "object",
            "required": ["kind", "label", "required"],
            "additionalProperties": false,
            "properties": {
              "kind": { "$ref": "#/$defs/code" },
              "label": { "type": "string", "minLength": 1 },
              "required": { "type": "boolean" }
            }
          }
        },
        "services": {
          "description": "Prestations families can reserve once rights are open. weekdays: ISO 8601 day numbers, 1 = Monday.",
          "type": "array",
          "minItems": 1,
          "items": {
            "type": "object",
            "required": ["code", "label", "weekdays"],
            "additionalProperties": false,
            "properties": {
              "code": { "$ref": "#/$defs/code" },
              "label": { "type": "string", "minLength": 1 },
              "weekdays": { "type": "array", "minItems": 1, "uniqueItems": true, "items": { "type": "integer", "minimum": 1, "maximum": 7 } }
            }
          }
        },
        "periods": {
          "type": "array",
          "minItems": 1,
          "items": {
            "type": "object",
            "required": ["code", "label", "starts_on", "ends_on"],
            "additionalProperties": false,
            "properties": {
              "code": { "$ref": "#/$defs/code" },
              "label": { "type": "string", "minLength": 1 },
              "starts_on": { "type": "string", "format": "date" },
              "ends_on": { "type": "string", "format": "date" },
              "planning_opens_at": { "type": "string", "format": "date-time" },
              "closed_dates": { "type": "array", "items": { "type": "string", "format": "date" } }
            }
          }
        }
      }
    }
  }
}

"""##
}
