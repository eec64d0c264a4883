package http1

// fieldParser parses the field lines that follow a start line (RFC 9112 §5),
// up to and including the empty line that ends the head. Requests and responses
// differ only in their limits and in the status their errors carry.
type fieldParser struct {
	errs *[numErrCodes]Error
	// anyName accepts any field name up to the colon but NUL, CR and LF
	// (request heads: the desync classifier judges the name); otherwise a
	// name must be a token directly followed by the colon.
	anyName bool
	maxLine int // longest field line, line end included
	maxHead int // the head, final empty line included, must end within buf[:maxHead]
}

// fieldsResult is what parse learned about the field section besides the fields.
type fieldsResult struct {
	headLen int  // the head ends at buf[headLen]
	obsFold bool // some field value was continued on a following line
	bareLF  bool // some line ended with LF alone
}

// err returns the error for code, with the status of this kind of head.
func (p *fieldParser) err(code errCode) error { return &p.errs[code] }

// lineErr turns a failed scanLine into the error to return. tooLong is the
// limit that applied to the line.
func (p *fieldParser) lineErr(st lineStatus, tooLong errCode) error {
	return lineError(p.errs, st, tooLong)
}

// lineError turns a failed scanLine into the error to return, from the table
// errs. tooLong is the limit that applied to the line.
func lineError(errs *[numErrCodes]Error, st lineStatus, tooLong errCode) error {
	switch st {
	case lineIncomplete:
		return ErrIncomplete
	case lineTooLong:
		return &errs[tooLong]
	case lineNUL:
		return &errs[errNUL]
	}
	return &errs[errBareCR]
}

// parse reads field lines from buf[pos] on and appends them to *hs. Values are
// trimmed of surrounding whitespace (RFC 9112 §5.1). An obs-fold continuation
// line (RFC 9112 §5.2) extends the previous value over the line break; the CR
// and LF inside it are turned into spaces only once the whole head has arrived,
// so that a call that returns ErrIncomplete leaves buf untouched.
func (p *fieldParser) parse(buf []byte, pos int, hs *[]Header) (fieldsResult, error) {
	var res fieldsResult
	valueStart := 0 // where the value of the last field starts in buf
	for {
		// The line may be as long as a field line, but the head must also end
		// within its own limit; whichever is tighter applies, with its error.
		maxLine, tooLong := p.maxLine, errHeaderLineTooLong
		if rest := p.maxHead - pos; rest <= maxLine {
			maxLine, tooLong = rest, errHeadTooLarge
		}
		if maxLine <= 0 {
			return res, p.err(errHeadTooLarge)
		}
		if pos >= len(buf) {
			return res, ErrIncomplete
		}

		switch c := buf[pos]; {
		case c == '\r' || c == '\n':
			// The empty line that ends the head (scanLine rejects a bare CR).
			_, next, lf, st := scanLine(buf, pos, pos, maxLine)
			if st != lineOK {
				return res, p.lineErr(st, tooLong)
			}
			res.bareLF = res.bareLF || lf
			res.headLen = next
			if res.obsFold {
				unfold(*hs)
			}
			return res, nil

		case isOWS(c) && (len(*hs) > 0 || !p.anyName):
			// obs-fold: this line continues the previous field's value.
			if len(*hs) == 0 {
				return res, p.err(errLeadingFold)
			}
			end, next, lf, st := scanLine(buf, pos, pos, maxLine)
			if st != lineOK {
				return res, p.lineErr(st, tooLong)
			}
			res.bareLF = res.bareLF || lf
			res.obsFold = true
			cs, ce := trimIndexes(buf, pos, end)
			if cs < ce {
				h := &(*hs)[len(*hs)-1]
				h.Folded = true
				if len(h.Value) == 0 {
					valueStart = cs
				}
				h.Value = buf[valueStart:ce:ce]
			}
			pos = next

		default:
			// A field line. In a request, one that starts with whitespace
			// before any field is a field whose name starts with it (there is
			// no value to continue); the classifier judges the name.
			nameEnd, err := p.fieldName(buf, pos, maxLine, tooLong)
			if err != nil {
				return res, err
			}
			end, next, lf, st := scanLine(buf, pos, nameEnd+1, maxLine)
			if st != lineOK {
				return res, p.lineErr(st, tooLong)
			}
			res.bareLF = res.bareLF || lf
			vs, ve := trimIndexes(buf, nameEnd+1, end)
			*hs = append(*hs, Header{
				Name:  buf[pos:nameEnd:nameEnd],
				Value: buf[vs:ve:ve],
			})
			valueStart = vs
			pos = next
		}
	}
}

// fieldName checks the field name that starts at buf[pos] and returns the
// index of the colon after it. Unless p.anyName, the name must be a token (RFC
// 9110 §5.1) followed directly by the colon: RFC 9112 §5.1 makes whitespace
// before the colon an error. With p.anyName (request heads) the name is
// whatever precedes the first colon, NUL, CR and LF excepted: ALB forwards such
// requests and classifies them (spec §9.2: NonCompliantHeader,
// SuspiciousHeader, EmptyHeader), and the proxy rejects the one form ALB
// always rejects ("Transfer-Encoding : chunked", spec §2.1).
func (p *fieldParser) fieldName(buf []byte, pos, maxLine int, tooLong errCode) (int, error) {
	limit := pos + maxLine
	lim := min(len(buf), limit)
	i := pos
	for i < lim && isTchar[buf[i]] {
		i++
	}
	if p.anyName {
		for i < lim {
			if c := buf[i]; c == ':' || c == '\r' || c == '\n' || c == 0 {
				break
			}
			i++
		}
	}
	if i == lim {
		if lim == limit {
			return 0, p.err(tooLong)
		}
		return 0, ErrIncomplete
	}
	switch c := buf[i]; {
	case c == ':' && p.anyName:
		return i, nil
	case c == ':' && i == pos:
		return 0, p.err(errEmptyHeaderName)
	case c == ':':
		return i, nil
	case isOWS(c):
		return 0, p.err(errSpaceBeforeColon)
	case c == '\r' || c == '\n':
		return 0, p.err(errMissingColon)
	case c == 0:
		return 0, p.err(errNUL)
	}
	return 0, p.err(errBadHeaderName)
}

// trimIndexes returns the bounds of buf[start:end] without leading and trailing
// SP and HTAB.
func trimIndexes(buf []byte, start, end int) (int, int) {
	for start < end && isOWS(buf[start]) {
		start++
	}
	for end > start && isOWS(buf[end-1]) {
		end--
	}
	return start, end
}

// unfold replaces the CR and LF bytes left inside folded values with spaces, as
// RFC 9112 §5.2 allows ("replace each received obs-fold with one or more SP
// octets"), so that every value is one slice of plain text. Only fold line
// breaks can be there: scanLine rejected every other CR, and LF ends lines.
func unfold(hs []Header) {
	for _, h := range hs {
		for i, c := range h.Value {
			if c == '\r' || c == '\n' {
				h.Value[i] = ' '
			}
		}
	}
}
