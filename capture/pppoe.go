package capture

import (
	"encoding/binary"
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// pppoeSession decodes a PPPoE session header and the PPP protocol field
// in one step, so PPPoE links (DSL uplinks mirrored to the sensor) decode
// in place like the rest. gopacket's PPPoE and PPP layers are not
// DecodingLayers.
type pppoeSession struct {
	layers.BaseLayer
	next gopacket.LayerType
}

var errPPPoE = errors.New("pppoe: truncated or not a session packet")

func (p *pppoeSession) LayerType() gopacket.LayerType { return layers.LayerTypePPPoE }

func (p *pppoeSession) CanDecode() gopacket.LayerClass { return layers.LayerTypePPPoE }

func (p *pppoeSession) NextLayerType() gopacket.LayerType { return p.next }

func (p *pppoeSession) DecodeFromBytes(data []byte, _ gopacket.DecodeFeedback) error {
	// version/type (1), code (1, 0 in session), session id (2), length (2), PPP protocol (2)
	if len(data) < 8 || data[0] != 0x11 || data[1] != 0 {
		return errPPPoE
	}
	n := int(binary.BigEndian.Uint16(data[4:6]))
	end := 6 + n
	if n < 2 || end > len(data) {
		end = len(data) // cut by the snap length: decode what is there
	}
	switch binary.BigEndian.Uint16(data[6:8]) {
	case 0x0021:
		p.next = layers.LayerTypeIPv4
	case 0x0057:
		p.next = layers.LayerTypeIPv6
	default:
		p.next = gopacket.LayerTypeZero
	}
	p.Contents, p.Payload = data[:8], data[8:end]
	return nil
}
