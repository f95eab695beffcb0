package fhir

// CapabilityStatement is the R4 CapabilityStatement, the elements needed to
// describe a server truthfully: what it implements, which interactions on
// which resources, which search parameters.
type CapabilityStatement struct {
	Resource
	URL                 string                    `json:"url,omitempty"`
	Version             string                    `json:"version,omitempty"`
	Name                string                    `json:"name,omitempty"`
	Title               string                    `json:"title,omitempty"`
	Status              string                    `json:"status"`
	Date                string                    `json:"date"`
	Publisher           string                    `json:"publisher,omitempty"`
	Description         string                    `json:"description,omitempty"`
	Kind                string                    `json:"kind"`
	Instantiates        []string                  `json:"instantiates,omitempty"`
	Software            *CapabilitySoftware       `json:"software,omitempty"`
	Implementation      *CapabilityImplementation `json:"implementation,omitempty"`
	FHIRVersion         string                    `json:"fhirVersion"`
	Format              []string                  `json:"format"`
	PatchFormat         []string                  `json:"patchFormat,omitempty"`
	ImplementationGuide []string                  `json:"implementationGuide,omitempty"`
	Rest                []CapabilityRest          `json:"rest,omitempty"`
}

// CapabilitySoftware is CapabilityStatement.software.
type CapabilitySoftware struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// CapabilityImplementation is CapabilityStatement.implementation.
type CapabilityImplementation struct {
	Description string `json:"description"`
	URL         string `json:"url,omitempty"`
}

// CapabilityRest is CapabilityStatement.rest.
type CapabilityRest struct {
	Mode          string                  `json:"mode"`
	Documentation string                  `json:"documentation,omitempty"`
	Resource      []CapabilityResource    `json:"resource,omitempty"`
	Interaction   []CapabilityInteraction `json:"interaction,omitempty"`
}

// CapabilityResource is CapabilityStatement.rest.resource.
type CapabilityResource struct {
	Type              string                  `json:"type"`
	Profile           string                  `json:"profile,omitempty"`
	SupportedProfile  []string                `json:"supportedProfile,omitempty"`
	Documentation     string                  `json:"documentation,omitempty"`
	Interaction       []CapabilityInteraction `json:"interaction,omitempty"`
	Versioning        string                  `json:"versioning,omitempty"`
	ReadHistory       *bool                   `json:"readHistory,omitempty"`
	UpdateCreate      *bool                   `json:"updateCreate,omitempty"`
	ConditionalCreate *bool                   `json:"conditionalCreate,omitempty"`
	SearchParam       []CapabilitySearchParam `json:"searchParam,omitempty"`
	Operation         []CapabilityOperation   `json:"operation,omitempty"`
}

// CapabilityOperation is CapabilityStatement.rest.resource.operation.
type CapabilityOperation struct {
	Name          string `json:"name"`
	Definition    string `json:"definition"`
	Documentation string `json:"documentation,omitempty"`
}

// CapabilityInteraction is an interaction code with its documentation.
type CapabilityInteraction struct {
	Code          string `json:"code"`
	Documentation string `json:"documentation,omitempty"`
}

// CapabilitySearchParam is CapabilityStatement.rest.resource.searchParam.
type CapabilitySearchParam struct {
	Name          string `json:"name"`
	Definition    string `json:"definition,omitempty"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

func (c CapabilityStatement) MarshalJSON() ([]byte, error) {
	type plain CapabilityStatement
	q := plain(c)
	q.ResourceType = "CapabilityStatement"
	return MarshalPlain(q)
}
