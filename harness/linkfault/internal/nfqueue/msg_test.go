package nfqueue

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestBindMessage(t *testing.T) {
	b := bindMsg(7, 2711, 4096)
	ne := binary.NativeEndian
	if int(ne.Uint32(b)) != len(b) || len(b)%4 != 0 {
		t.Fatalf("length field %d, message %d bytes", ne.Uint32(b), len(b))
	}
	if typ := ne.Uint16(b[4:]); typ != 3<<8|2 {
		t.Errorf("type %#x, want NFNL_SUBSYS_QUEUE<<8 | NFQNL_MSG_CONFIG", typ)
	}
	if fl := ne.Uint16(b[6:]); fl != unix.NLM_F_REQUEST|unix.NLM_F_ACK {
		t.Errorf("flags %#x", fl)
	}
	if seq := ne.Uint32(b[8:]); seq != 7 {
		t.Errorf("seq %d", seq)
	}
	if q := binary.BigEndian.Uint16(b[18:]); q != 2711 {
		t.Errorf("res_id %d, want the queue number big-endian", q)
	}
	attrs := map[uint16][]byte{}
	for a := b[20:]; len(a) >= 4; {
		n := int(ne.Uint16(a))
		attrs[ne.Uint16(a[2:])] = a[4:n]
		a = a[align4(n):]
	}
	if got := attrs[cfgCmd]; !slices.Equal(got, []byte{cmdBind, 0, 0, 0}) {
		t.Errorf("cmd %v", got)
	}
	if got := attrs[cfgParams]; !slices.Equal(got, []byte{0, 0, 0, 0, copyMeta}) {
		t.Errorf("params %v, want copy range 0, mode meta", got)
	}
	if got := binary.BigEndian.Uint32(attrs[cfgMaxLen]); got != 4096 {
		t.Errorf("maxlen %d", got)
	}
	if binary.BigEndian.Uint32(attrs[cfgFlags]) != flagGSO || binary.BigEndian.Uint32(attrs[cfgMask]) != flagGSO {
		t.Errorf("flags %v mask %v, want GSO in both", attrs[cfgFlags], attrs[cfgMask])
	}
}

func TestVerdictsOneMessageEach(t *testing.T) {
	b := verdictMsgs(9, []uint32{5, 6})
	if len(b) != 2*32 {
		t.Fatalf("%d bytes, want two 32-byte messages", len(b))
	}
	for i, id := range []uint32{5, 6} {
		m := b[i*32 : (i+1)*32]
		if typ := binary.NativeEndian.Uint16(m[4:]); typ != 3<<8|1 {
			t.Errorf("type %#x, want NFQNL_MSG_VERDICT", typ)
		}
		v := m[24:]
		if binary.BigEndian.Uint32(v) != verdictAccept || binary.BigEndian.Uint32(v[4:]) != id {
			t.Errorf("verdict header %v, want ACCEPT of %d", v, id)
		}
	}
}

// packetMsg is what the kernel sends for a queued packet, with a few attributes.
func packetMsg(id uint32) []byte {
	hdr := binary.BigEndian.AppendUint32(nil, id)
	hdr = append(hdr, 0x08, 0x00, 3) // hw_protocol, hook: packed, 7 bytes
	mark := binary.BigEndian.AppendUint32(nil, 1)
	return message(msgPacket, 0, 0, 2711, attr{3, mark}, attr{attrPacketHdr, hdr})
}

func errorMsg(seq uint32, errno int32) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+4+unix.NLMSG_HDRLEN)
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_ERROR)
	binary.NativeEndian.PutUint32(b[8:], seq)
	binary.NativeEndian.PutUint32(b[16:], uint32(errno))
	return b
}

func TestParse(t *testing.T) {
	dgram := slices.Concat(packetMsg(41), errorMsg(3, 0), packetMsg(42), errorMsg(4, -int32(unix.EPERM)))
	r, err := parse(dgram)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.ids, []uint32{41, 42}) {
		t.Errorf("ids %v, want [41 42]", r.ids)
	}
	if ack, ok := r.acks[3]; !ok || ack != nil {
		t.Errorf("ack 3 = %v, %v; want a success", ack, ok)
	}
	if !errors.Is(r.acks[4], unix.EPERM) {
		t.Errorf("ack 4 = %v, want EPERM", r.acks[4])
	}
	if _, err := parse(dgram[:len(dgram)-3]); err == nil {
		t.Error("a truncated message parsed")
	}
}
