package qedm

import "github.com/carnet-sante/carnet/cda"

func cdaLimits(maxBytes int) cda.Limits { return cda.Limits{MaxBytes: maxBytes} }
