extension DossierContract {
    /// `contracts/dossier.schema.json`, byte for byte: the schema the import validates against.
    ///
    /// Embedded rather than read at run time so the binary cannot drift from the contract it was
    /// built for; `SchemaTextTests` compares it with the file in `config/contracts/`.
    public static let schemaText: String = ##"""
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "urn:eticket:contracts:dossier:1",
  "title": "Submitted family dossier (dossier famille)",
  "description": "One dossier as the family portal hands it over when the family presses Envoyer. Import files are JSON Lines: one such object per line. The schema checks shape only; completeness (children, a payer, an emergency contact, required documents) is the back office's rule check, not an import error: an incomplete dossier is imported and then returned to the family with reasons.",
  "type": "object",
  "required": ["external_id", "structure", "account", "submitted_at", "confirmed", "children", "guardians"],
  "additionalProperties": false,
  "properties": {
    "external_id": { "description": "The portal's stable id of the dossier. Submitting the same id again after the dossier was returned is a resubmission (a new version); while a submission is being processed it is refused.", "type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$" },
    "structure": { "description": "The code of the structure the family is attached to.", "type": "string", "maxLength": 64 },
    "account": {
      "type": "object",
      "required": ["email", "first_name", "last_name"],
      "additionalProperties": false,
      "properties": {
        "email": { "description": "Where the family's emails go: an address the mail relay can deliver (ASCII local@domain).", "type": "string", "maxLength": 254, "format": "email" },
        "first_name": { "type": "string", "maxLength": 100 },
        "last_name": { "type": "string", "maxLength": 100 },
        "terms_accepted_at": { "description": "Acceptance of the service's terms of use (CGU).", "type": ["string", "null"], "format": "date-time" },
        "house_rules_accepted_at": { "description": "Acceptance of the structure's règlement intérieur.", "type": ["string", "null"], "format": "date-time" }
      }
    },
    "submitted_at": { "type": "string", "format": "date-time" },
    "confirmed": { "description": "The mandatory box the family ticks before sending.", "type": "boolean" },
    "locale": { "enum": ["fr", "en"], "default": "fr" },
    "notes": { "type": "string", "maxLength": 4000 },
    "children": {
      "type": "array",
      "maxItems": 20,
      "items": {
        "type": "object",
        "required": ["first_name", "last_name", "birth_date"],
        "additionalProperties": false,
        "properties": {
          "first_name": { "type": "string", "maxLength": 100 },
          "last_name": { "type": "string", "maxLength": 100 },
          "birth_date": { "type": "string", "format": "date" },
          "school": { "type": "string", "maxLength": 200 },
          "grade": { "type": "string", "maxLength": 50 },
          "services": { "description": "Service codes the family asks for this child; absent means all services of the structure.", "type": "array", "maxItems": 50, "items": { "type": "string", "maxLength": 64 } },
          "notes": { "type": "string", "maxLength": 4000 }
        }
      }
    },
    "guardians": {
      "description": "Legal guardians (responsables légaux).",
      "type": "array",
      "maxItems": 10,
      "items": {
        "type": "object",
        "required": ["first_name", "last_name"],
        "additionalProperties": false,
        "properties": {
          "first_name": { "type": "string", "maxLength": 100 },
          "last_name": { "type": "string", "maxLength": 100 },
          "relationship": { "type": "string", "maxLength": 50 },
          "email": { "type": "string", "maxLength": 254, "format": "email" },
          "phone": { "type": "string", "maxLength": 40 },
          "address": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
              "line1": { "type": "string", "maxLength": 200 },
              "line2": { "type": "string", "maxLength": 200 },
              "postal_code": { "type": "string", "maxLength": 10 },
              "city": { "type": "string", "maxLength": 100 }
            }
          },
          "payer": { "type": "boolean", "default": false },
          "emergency_contact": { "type": "boolean", "default": false },
          "notes": { "type": "string", "maxLength": 4000 }
        }
      }
    },
    "trusted_persons": {
      "description": "Tiers de confiance: people allowed to pick the children up; one may be the emergency contact.",
      "type": "array",
      "maxItems": 20,
      "items": {
        "type": "object",
        "required": ["first_name", "last_name"],
        "additionalProperties": false,
        "properties": {
          "first_name": { "type": "string", "maxLength": 100 },
          "last_name": { "type": "string", "maxLength": 100 },
          "relationship": { "type": "string", "maxLength": 50 },
          "phone": { "type": "string", "maxLength": 40 },
          "can_pick_up": { "type": "boolean", "default": true },
          "emergency_contact": { "type": "boolean", "default": false },
          "notes": { "type": "string", "maxLength": 4000 }
        }
      }
    },
    "documents": {
      "description": "Supporting documents (kind = one of the structure's document kinds) and free documents (kind = free). Only metadata travels; the files stay in the portal's storage.",
      "type": "array",
      "maxItems": 100,
      "items": {
        "type": "object",
        "required": ["kind", "filename", "media_type", "size", "sha256"],
        "additionalProperties": false,
        "properties": {
          "kind": { "type": "string", "maxLength": 64 },
          "filename": { "type": "string", "maxLength": 255 },
          "media_type": { "type": "string", "maxLength": 100 },
          "size": { "type": "integer", "minimum": 0 },
          "sha256": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
          "notes": { "type": "string", "maxLength": 4000 }
        }
      }
    }
  }
}

"""##
}
