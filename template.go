package skjold

// Templates returns fresh copies of the built-in categories that every new tenant starts
// with: the subject profile and the usual record kinds of travel, training, booking and IT
// businesses. A tenant may change them with PutCategory.
func Templates() []*Category {
	return []*Category{
		{
			Name: SubjectCategory, Description: "The subject's own profile.",
			Fields: []Field{
				{Name: FieldRef, Type: TypeString, Description: "The tenant's own reference, such as a customer number."},
				{Name: FieldEmail, Type: TypeEmail},
				{Name: FieldPhone, Type: TypePhone},
				{Name: FieldName, Type: TypeString},
				{Name: FieldBirthDate, Type: TypeDate, Purposes: []string{"credit_check", "debt_collection"},
					Description: "Returned only for credit checks and debt collection."},
			},
			Purposes: []string{"contract", "credit_check", "debt_collection"}, LegalBasis: BasisContract,
			Retention: Retention{Period: "P3Y", From: RetentionFromRelationship},
		},
		{
			Name: "identity", Description: "Identity details beyond the profile.",
			Fields: []Field{
				{Name: "first_name", Type: TypeString}, {Name: "last_name", Type: TypeString},
				{Name: "birth_date", Type: TypeDate, Purposes: []string{"credit_check", "debt_collection"}},
				{Name: "nationality", Type: TypeString},
				{Name: "document_number", Type: TypeString, Description: "Passport or identity card number."},
			},
			Purposes: []string{"contract", "credit_check", "debt_collection"}, LegalBasis: BasisContract,
			Retention: Retention{Period: "P3Y", From: RetentionFromRelationship},
		},
		{
			Name: "contact", Description: "Postal and other contact details.",
			Fields: []Field{
				{Name: "email", Type: TypeEmail}, {Name: "phone", Type: TypePhone},
				{Name: "address", Type: TypeString}, {Name: "postal_code", Type: TypeString},
				{Name: "city", Type: TypeString}, {Name: "country", Type: TypeString},
			},
			Purposes: []string{"contract", "customer_service"}, LegalBasis: BasisContract,
			Retention: Retention{Period: "P3Y", From: RetentionFromRelationship},
		},
		{
			Name: "travel_booking", Description: "A flight, rail, hotel or car booking.",
			Fields: []Field{
				{Name: "booking_reference", Type: TypeString, Required: true},
				{Name: "kind", Type: TypeString, Required: true, Description: "flight, rail, hotel or car"},
				{Name: "departure_date", Type: TypeDate, Required: true}, {Name: "return_date", Type: TypeDate},
				{Name: "destination", Type: TypeString}, {Name: "carrier", Type: TypeString},
				{Name: "price", Type: TypeNumber}, {Name: "notes", Type: TypeString},
			},
			Purposes: []string{"contract"}, LegalBasis: BasisContract,
			Retention: Retention{Period: "P3Y", From: "field:departure_date"},
		},
		{
			Name: "invoice", Description: "An invoice or voucher, kept as accounting law requires.",
			Fields: []Field{
				{Name: "invoice_number", Type: TypeString, Required: true},
				{Name: "invoice_date", Type: TypeDate, Required: true},
				{Name: "amount", Type: TypeNumber, Required: true}, {Name: "currency", Type: TypeString},
				{Name: "vat_id", Type: TypeString}, {Name: "description", Type: TypeString},
			},
			Purposes: []string{"accounting"}, LegalBasis: BasisLegalObligation,
			Retention: Retention{Period: "P5Y", From: "field:invoice_date"},
		},
		{
			Name: "training_enrollment", Description: "Participation in a course or training.",
			Fields: []Field{
				{Name: "course", Type: TypeString, Required: true},
				{Name: "start_date", Type: TypeDate, Required: true}, {Name: "end_date", Type: TypeDate},
				{Name: "completed", Type: TypeBoolean}, {Name: "certificate_number", Type: TypeString},
			},
			Purposes: []string{"contract", "certification"}, LegalBasis: BasisContract,
			Retention: Retention{Period: "P5Y", From: RetentionFromCreated},
		},
		{
			Name: "reservation", Description: "A booked appointment or table.",
			Fields: []Field{
				{Name: "service", Type: TypeString, Required: true},
				{Name: "starts_at", Type: TypeDateTime, Required: true},
				{Name: "duration_minutes", Type: TypeInteger}, {Name: "notes", Type: TypeString},
			},
			Purposes: []string{"contract"}, LegalBasis: BasisContract,
			Retention: Retention{Period: "P1Y", From: "field:starts_at"},
		},
		{
			Name: "enquiry", Description: "A contact-form enquiry not (yet) followed by a customer relationship.",
			Fields: []Field{
				{Name: "message", Type: TypeString, Required: true}, {Name: "topic", Type: TypeString},
			},
			Purposes: []string{"answer_enquiry"}, LegalBasis: BasisLegitimateInterest,
			Retention: Retention{Period: "P30D", From: RetentionFromCreated},
		},
	}
}
