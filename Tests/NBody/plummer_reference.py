import math, struct
M=(1<<64)-1
def mix(z):
    z=((z^(z>>30))*0xBF58476D1CE4E5B9)&M
    z=((z^(z>>27))*0x94D049BB133111EB)&M
    return z^(z>>31)
class X:
    def __init__(s,seed):
        st=seed; s.s=[]
        for _ in range(4):
            st=(st+0x9E3779B97F4A7C15)&M; s.s.append(mix(st))
    def u64(s):
        a=s.s; rotl=lambda x,k:((x<<k)|(x>>(64-k)))&M
        r=(rotl((a[1]*5)&M,7)*9)&M; t=(a[1]<<17)&M
        a[2]^=a[0]; a[3]^=a[1]; a[1]^=a[2]; a[0]^=a[3]; a[2]^=t; a[3]=rotl(a[3],45); return r
    def d(s): return (s.u64()>>11)*(1.0/(1<<53))
    def sg(s): return 2.0*s.d()-1.0
def direction(r,L):
    while True:
        x=r.sg(); y=r.sg(); z=r.sg(); n2=x*x+y*y+z*z
        if not (n2>1.0 or n2==0.0): break
    sc=L/math.sqrt(n2); return [x*sc,y*sc,z*sc]
def plummer(r):
    while True:
        a=r.d(); b=r.d(); c=r.d(); t=max(a,max(b,c))
        if not (t*t*t>0.999): break
    rad=t/math.sqrt(1.0-t*t); pos=direction(r,rad)
    while True:
        q=r.d(); g=0.1*r.d(); w=1.0-q*q
        if g<=q*q*(w*w*w*math.sqrt(w)): break
    ve=math.sqrt(2.0)/math.sqrt(math.sqrt(1.0+rad*rad)); vel=direction(r,q*ve)
    ls=3.0*math.pi/16.0; vs=1.0/math.sqrt(ls)
    return [p*ls for p in pos],[v*vs for v in vel]
def create(n,seed):
    P=[];V=[];m=1.0/n
    for i in range(n):
        r=X(mix(seed)^mix((~i)&M)); p,v=plummer(r); P+=p; V+=v
    tm=0.0; c=[0.0]*3; d=[0.0]*3
    for i in range(n):
        tm+=m
        for k in range(3): c[k]+=m*P[3*i+k]; d[k]+=m*V[3*i+k]
    for k in range(3): c[k]/=tm; d[k]/=tm
    for i in range(n):
        for k in range(3): P[3*i+k]-=c[k]; V[3*i+k]-=d[k]
    return P,V
P,V=create(4,2024)
b=lambda x: struct.unpack('<q',struct.pack('<d',x))[0]
print([b(x) for x in P[0:3]], P[0:3]); print([b(x) for x in V[9:12]], V[9:12])
